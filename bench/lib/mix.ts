/**
 * The DeathStarBench socialNetwork mix as plain HTTP requests, the same for any target
 * that serves Oasis's REST paths (the edge, or ../shared/bench/floor-server.ts):
 * home `GET /v1/feeds/home?pageSize=10`, user `GET /v1/users/{id}/feed?pageSize=10`,
 * compose `POST /v1/posts` with a caption and 1-4 of the author's media ids. One load
 * generator for both, so their numbers compare.
 *
 * closedMix: `concurrency` workers, each sends its next request when the last returns.
 * openMix: requests at a fixed arrival rate whatever the answers (latency counted from
 * the scheduled start, as wrk2 does, so a slow server cannot slow the clock), searched
 * for the highest rate whose p99 stays under 100 ms.
 */
import { fortuneFiles, readFortunes } from "../../demo/data.ts";

export type Op = "home" | "user" | "compose";

export interface MixUser {
  readonly token: string;
  /** The id in `/v1/users/{id}/feed` for this user. */
  readonly pathId: string;
  /** Media ids this user may post (composers only). */
  readonly media?: readonly string[];
}

export interface MixTarget {
  readonly name: string;
  readonly base: string;
  /** Everyone; users with `media` compose. */
  readonly users: readonly MixUser[];
  /** Called with the response text of each successful compose (fan-out lag probes). */
  onCompose?: (userIndex: number, text: string) => void;
  /** Composes carry a fresh request_id each, as the app sends one (the DSB mix sends none). */
  readonly requestIds?: boolean;
}

export interface MixResult {
  readonly total: number;
  readonly seconds: number;
  readonly rps: number;
  readonly lat: Record<Op, number[]>;
  readonly all: number[];
  readonly errors: Record<Op, number>;
  readonly failures: Map<string, number>;
}

/** The DeathStarBench mix: 60% home, 30% user timeline, 10% compose. */
export const dsbMix: Record<Op, number> = { home: 0.6, user: 0.3, compose: 0.1 };

/**
 * Accept-Encoding of every request: "identity" by default, as wrk sends none (issue 16's
 * floor numbers came from wrk), and Bun's fetch would otherwise ask for br and make the
 * edge compress every page (the floor never compresses). OASIS_BENCH_ACCEPT_ENCODING=br
 * measures the edge with compression.
 */
const acceptEncoding = process.env.OASIS_BENCH_ACCEPT_ENCODING ?? "identity";

/** Request ids unique across runs: this process's tag and a counter. */
const requestTag = crypto.randomUUID().slice(0, 8);
let requestSeq = 0;

const captions = fortuneFiles()
  .flatMap((f) => readFortunes(f))
  .filter((t) => [...t].length < 2000);

/** Percentile p (0-100) of xs, nearest rank. */
export function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

function pick(mix: Partial<Record<Op, number>>): Op {
  const total = (mix.home ?? 0) + (mix.user ?? 0) + (mix.compose ?? 0);
  const r = Math.random() * total;
  if (r < (mix.home ?? 0)) return "home";
  if (r < (mix.home ?? 0) + (mix.user ?? 0)) return "user";
  return "compose";
}

class Recorder {
  readonly lat: Record<Op, number[]> = { home: [], user: [], compose: [] };
  readonly errors: Record<Op, number> = { home: 0, user: 0, compose: 0 };
  readonly failures = new Map<string, number>();
  private n = 0;
  private readonly composers: number[];

  constructor(private readonly target: MixTarget) {
    this.composers = target.users.flatMap((u, i) => (u.media?.length ? [i] : []));
  }

  /** Sends one request of kind `op`; records its latency from `startedAt` (ms, performance.now()). */
  async send(op: Op, startedAt: number): Promise<void> {
    const t = this.target;
    const i = this.n++;
    const who = Math.floor(Math.random() * t.users.length);
    let res: Response | undefined;
    let text = "";
    let composer = -1;
    try {
      const auth = { authorization: `Bearer ${t.users[who]!.token}`, "accept-encoding": acceptEncoding };
      const signal = AbortSignal.timeout(10_000);
      if (op === "home") res = await fetch(`${t.base}/v1/feeds/home?pageSize=10`, { headers: auth, signal });
      else if (op === "user") {
        const other = t.users[Math.floor(Math.random() * t.users.length)]!;
        res = await fetch(`${t.base}/v1/users/${other.pathId}/feed?pageSize=10`, { headers: auth, signal });
      } else {
        composer = this.composers[i % this.composers.length]!;
        const u = t.users[composer]!;
        const body = JSON.stringify({
          mediaIds: u.media!.slice(0, 1 + (i % 4)),
          caption: captions[i % captions.length]!.slice(0, 2000),
          ...(t.requestIds ? { requestId: `${requestTag}.${requestSeq++}` } : {}),
        });
        res = await fetch(`${t.base}/v1/posts`, { method: "POST", headers: { ...auth, authorization: `Bearer ${u.token}`, "content-type": "application/json" }, body, signal });
      }
      text = await res.text();
    } catch (err) {
      text = String(err);
    }
    this.lat[op].push(performance.now() - startedAt);
    if (res?.status !== 200) {
      this.errors[op]++;
      // Count failures by status and error message, so a broken run says why.
      const key = `${res?.status ?? "fetch"} ${text.slice(0, 160)}`;
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
    } else if (op === "compose") t.onCompose?.(composer, text);
  }

  result(seconds: number): MixResult {
    const all = [...this.lat.home, ...this.lat.user, ...this.lat.compose];
    return { total: all.length, seconds, rps: all.length / seconds, lat: this.lat, all, errors: this.errors, failures: this.failures };
  }
}

/** Closed loop: `concurrency` workers for `seconds`. */
export async function closedMix(target: MixTarget, seconds: number, concurrency: number, mix: Partial<Record<Op, number>> = dsbMix): Promise<MixResult> {
  const rec = new Recorder(target);
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await rec.send(pick(mix), performance.now());
    }),
  );
  return rec.result((performance.now() - started) / 1000);
}

/**
 * Open loop: `rate` requests per second for `seconds`, each started at its scheduled
 * time (a timer tick every 2 ms starts all that are due) however many are in flight;
 * latency is measured from the scheduled time. Waits for the stragglers (10 s timeout).
 */
export async function fixedRate(target: MixTarget, rate: number, seconds: number, mix: Partial<Record<Op, number>> = dsbMix): Promise<MixResult> {
  const rec = new Recorder(target);
  const started = performance.now();
  const count = Math.round(rate * seconds);
  const inflight: Promise<void>[] = [];
  let sent = 0;
  while (sent < count) {
    const now = performance.now();
    while (sent < count && started + (sent * 1000) / rate <= now) {
      inflight.push(rec.send(pick(mix), started + (sent * 1000) / rate));
      sent++;
    }
    await Bun.sleep(2);
  }
  await Promise.all(inflight);
  return rec.result(seconds);
}

/**
 * The highest fixed arrival rate with p99 < 100 ms and no errors: starts at half the
 * closed-loop rate, multiplies by 1.3 while it passes, then bisects between the last
 * pass and the first failure; `maxSteps` rate steps of `seconds` each.
 */
export async function openMix(
  target: MixTarget,
  closedRps: number,
  seconds: number,
  report: (rate: number, r: MixResult) => void,
  maxSteps = 6,
): Promise<number> {
  let pass = 0;
  let fail = Infinity;
  let rate = Math.max(1, closedRps * 0.5);
  for (let i = 0; i < maxSteps; i++) {
    const r = await fixedRate(target, rate, seconds);
    report(rate, r);
    const ok = pct(r.all, 99) < 100 && r.errors.home + r.errors.user + r.errors.compose === 0;
    if (ok) pass = Math.max(pass, rate);
    else fail = Math.min(fail, rate);
    rate = fail === Infinity ? rate * 1.3 : (pass + fail) / 2;
    if (fail !== Infinity && fail - pass < Math.max(1, 0.05 * fail)) break;
    await Bun.sleep(1000); // let queues drain between steps
  }
  return pass;
}
