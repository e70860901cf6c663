/**
 * The demo loader: fills a running mesh with the Reed98 community through the edge's
 * public JSON API only, as the app would. Every create carries a request id derived
 * from the demo data, so running it twice changes nothing the second time.
 *
 * Steps: accounts -> sessions -> profiles (bios, private accounts).
 */
import { EdgeClient, EdgeError, inParallel } from "./edge-client.ts";
import { Progress } from "./progress.ts";
import { demoGraph, demoPassword, type DemoUser } from "./users.ts";

const identity = "oasis.identity.v1.IdentityService";

export interface StepReport {
  readonly step: string;
  readonly count: number;
  readonly seconds: number;
  readonly rate: number;
}

export interface LoadReport {
  readonly users: number;
  readonly steps: StepReport[];
  readonly seconds: number;
  /** Handle of a user to log in as. */
  readonly sampleHandle: string;
}

export interface LoaderOptions {
  readonly concurrency?: number;
  readonly log?: (line: string) => void;
}

export class DemoLoader {
  private readonly edge: EdgeClient;
  private readonly concurrency: number;
  readonly userIds = new Map<number, string>();
  readonly tokens = new Map<number, string>();
  private readonly steps: StepReport[] = [];

  constructor(edgeUrl: string, opts: LoaderOptions = {}) {
    this.edge = new EdgeClient(edgeUrl);
    this.concurrency = opts.concurrency ?? 16;
  }

  private async step<T>(label: string, items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
    const p = new Progress(label, items.length);
    await inParallel(items, this.concurrency, async (item) => {
      await work(item);
      p.tick();
    });
    const r = p.finish();
    this.steps.push({ step: label, count: r.count, seconds: r.seconds, rate: r.rate });
  }

  async run(): Promise<LoadReport> {
    const started = performance.now();
    const { users } = demoGraph();
    await this.step("accounts", users, (u) => this.createAccount(u));
    await this.step("sessions", users, (u) => this.signIn(u));
    await this.step("profiles", users, (u) => this.updateProfile(u));
    return { users: users.length, steps: this.steps, seconds: (performance.now() - started) / 1000, sampleHandle: users[0]!.handle };
  }

  private async createAccount(u: DemoUser): Promise<void> {
    const res = await this.edge.call(identity, "CreateAccount", {
      handle: u.handle,
      email: u.email,
      password: demoPassword,
      displayName: u.displayName,
      requestId: `demo-account-${u.n}`,
    });
    this.userIds.set(u.n, res.account.userId);
  }

  private async signIn(u: DemoUser): Promise<void> {
    const res = await this.edge.call(identity, "CreateSession", { login: u.handle, password: demoPassword });
    this.tokens.set(u.n, res.accessToken);
  }

  private async updateProfile(u: DemoUser): Promise<void> {
    try {
      await this.edge.call(
        identity,
        "UpdateProfile",
        { profile: { userId: this.userIds.get(u.n), bio: u.bio, private: u.private }, updateMask: "bio,private" },
        this.tokens.get(u.n),
      );
    } catch (err) {
      if (err instanceof EdgeError) throw new Error(`profile of ${u.handle}: ${err.message}`);
      throw err;
    }
  }
}
