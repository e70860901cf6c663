/**
 * Replica selection for calls to a service that runs as several processes: least
 * pending calls with round-robin tie-break, passive ejection of replicas that fail with
 * `unavailable`, re-admission after a cool-down, and retries on another replica for
 * calls that are safe to repeat. Transport-agnostic: kit/client.ts uses it with
 * Connect-ES transports, the edge with its own lean client.
 *
 * Ejection: a replica failing with `unavailable` is skipped for `ejectMs` (doubling on
 * repeated failures, capped at 30 s) or until a health check passes (`markUp`); if
 * every replica is ejected the one ejected longest ago is tried anyway (fail open).
 * Retries: at most two more attempts, 25 ms and 50 ms apart (+-50% jitter), only for
 * `unavailable` and only when the caller says the call is retryable.
 */
import { Code, ConnectError } from "@connectrpc/connect";

export interface ReplicaState {
  readonly url: string;
  readonly pending: number;
  readonly ejected: boolean;
}

interface Replica<T> {
  readonly url: string;
  readonly client: T;
  pending: number;
  ejectedUntil: number;
  failures: number;
}

export interface ReplicaSetOptions<T = unknown> {
  /** Base ejection time, ms. Default 2000. */
  readonly ejectMs?: number;
  /** Attempts for a retryable call, first included. Default 3. */
  readonly maxAttempts?: number;
  /** Releases the client of a replica that `setUrls` removed (calls in flight on it finish). */
  readonly onRemove?: (client: T) => void;
}

/**
 * Time left before `deadlineMs` (ms since the epoch) for the next attempt of a call;
 * throws `deadline_exceeded` when none is left. Attempts share one deadline so that
 * retries never stretch a call past what its caller asked for.
 */
export function remainingMs(deadlineMs: number): number {
  const left = Math.floor(deadlineMs - Date.now());
  if (left <= 0) throw new ConnectError("deadline exceeded before the call could be (re)sent", Code.DeadlineExceeded);
  return left;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}

export class ReplicaSet<T> {
  private replicas: Replica<T>[];
  private cursor = 0;
  private readonly ejectMs: number;
  private readonly maxAttempts: number;

  /**
   * `urls` may be empty only while discovery (kit/discovery.ts) has yet to fill it in
   * with `setUrls`; a call meanwhile fails `unavailable`.
   */
  constructor(
    urls: readonly string[],
    private readonly make: (url: string) => T,
    private readonly opts: ReplicaSetOptions<T> = {},
  ) {
    this.replicas = urls.map((url) => this.replica(url));
    this.ejectMs = opts.ejectMs ?? 2_000;
    this.maxAttempts = opts.maxAttempts ?? 3;
  }

  private replica(url: string): Replica<T> {
    return { url, client: this.make(url), pending: 0, ejectedUntil: 0, failures: 0 };
  }

  /**
   * Replaces the replica list (discovery found pods added or gone): replicas still listed
   * keep their client, pending count and ejection; new ones start fresh; removed ones are
   * handed to `onRemove` once no longer picked.
   */
  setUrls(urls: readonly string[]): void {
    const byUrl = new Map(this.replicas.map((r) => [r.url, r]));
    const next = [...new Set(urls)].map((url) => byUrl.get(url) ?? this.replica(url));
    const removed = this.replicas.filter((r) => !next.includes(r));
    this.replicas = next;
    this.cursor = 0;
    for (const r of removed) this.opts.onRemove?.(r.client);
  }

  private pick(exclude: Set<Replica<T>>): Replica<T> {
    const now = Date.now();
    const n = this.replicas.length;
    if (n === 0) throw new ConnectError("no replica of this upstream is known (yet)", Code.Unavailable);
    let best: Replica<T> | undefined;
    for (let i = 0; i < n; i++) {
      const r = this.replicas[(this.cursor + i) % n]!;
      if (exclude.has(r) || r.ejectedUntil > now) continue;
      if (!best || r.pending < best.pending) best = r;
    }
    this.cursor = (this.cursor + 1) % n;
    if (best) return best;
    return [...this.replicas].sort((a, b) => a.ejectedUntil - b.ejectedUntil).find((r) => !exclude.has(r)) ?? this.replicas[0]!;
  }

  private record(r: Replica<T>, err: unknown): void {
    if (err === undefined) {
      r.failures = 0;
      return;
    }
    if (ConnectError.from(err).code === Code.Unavailable) {
      r.failures++;
      r.ejectedUntil = Date.now() + Math.min(30_000, this.ejectMs * 2 ** (r.failures - 1));
    }
  }

  /**
   * Runs `call` on a replica, retrying `unavailable` on others when `retryable`, or when
   * `neverSent(err)` says the failed attempt never reached the replica (connection
   * refused, stream refused by GOAWAY): such a call is safe to send again whatever it does.
   */
  async run<R>(
    retryable: boolean,
    signal: AbortSignal | undefined,
    call: (client: T, url: string) => Promise<R>,
    neverSent: (err: unknown) => boolean = () => false,
  ): Promise<R> {
    const tried = new Set<Replica<T>>();
    for (let attempt = 1; ; attempt++) {
      const r = this.pick(tried);
      tried.add(r);
      if (tried.size === this.replicas.length) tried.clear();
      r.pending++;
      try {
        const res = await call(r.client, r.url);
        this.record(r, undefined);
        return res;
      } catch (err) {
        this.record(r, err);
        const again = retryable || neverSent(err);
        if (!again || ConnectError.from(err).code !== Code.Unavailable || attempt >= this.maxAttempts || signal?.aborted) throw err;
        await sleep(25 * 2 ** (attempt - 1) * (0.5 + Math.random()), signal);
      } finally {
        r.pending--;
      }
    }
  }

  /** Marks a replica failed as if a call had returned `unavailable` (health checks). */
  markDown(url: string): void {
    const r = this.replicas.find((x) => x.url === url);
    if (r) this.record(r, new ConnectError("health check failed", Code.Unavailable));
  }

  /**
   * Re-admits a replica at once (it passed an active health check): clears its ejection
   * and failure count, so a replica back from a crash takes calls within one check
   * instead of waiting out an ejection that doubled while it was down.
   */
  markUp(url: string): void {
    const r = this.replicas.find((x) => x.url === url);
    if (!r) return;
    r.failures = 0;
    r.ejectedUntil = 0;
  }

  /** Every replica's client (health checks, shutdown). */
  clients(): T[] {
    return this.replicas.map((r) => r.client);
  }

  states(): ReplicaState[] {
    const now = Date.now();
    return this.replicas.map((r) => ({ url: r.url, pending: r.pending, ejected: r.ejectedUntil > now }));
  }
}
