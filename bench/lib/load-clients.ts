/**
 * Closed-loop load from this process, for writes whose bodies differ per request (h2load
 * repeats one body): `concurrency` workers call `work(i)` for i = 0..n-1 and record
 * latencies. The client's own CPU is on the same 2 cores; the bench prints it.
 */
import { Code, ConnectError } from "@connectrpc/connect";

export interface LoopResult {
  readonly count: number;
  readonly seconds: number;
  readonly rate: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

/**
 * The loop both closed-loop forms share: `concurrency` workers take indexes 0, 1, 2, ...
 * while `more(i)` says so, call `work(i)`, count errors and record each call's latency.
 */
async function workers(concurrency: number, more: (next: number) => boolean, work: (i: number) => Promise<unknown>): Promise<LoopResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (more(next)) {
        const i = next++;
        const t = performance.now();
        try {
          await work(i);
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  return { count: next, seconds, rate: next / seconds, p50Ms: pct(50), p95Ms: pct(95), p99Ms: pct(99), errors };
}

/** Closed-loop load of exactly `n` calls (see the file comment). */
export function closedLoop(n: number, concurrency: number, work: (i: number) => Promise<unknown>): Promise<LoopResult> {
  return workers(concurrency, (next) => next < n, work);
}

/**
 * Closed-loop load for a fixed time: `concurrency` workers call `work(i)` with i = 0, 1,
 * 2, ... (each index once) until `seconds` have passed, then finish the calls in flight.
 * `count` is the calls made; errors are counted, not thrown.
 */
export function closedLoopFor(seconds: number, concurrency: number, work: (i: number) => Promise<unknown>): Promise<LoopResult> {
  const stop = performance.now() + seconds * 1000;
  return workers(concurrency, () => performance.now() < stop, work);
}

/**
 * Set-up calls again on Unavailable / DeadlineExceeded / ResourceExhausted, up to 5 tries,
 * waiting 1 s, 2 s, ... between them (a loaded box times calls out; every set-up write a
 * bench makes is idempotent: request ids, or follows by nature). Other errors are thrown.
 */
export async function again<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = ConnectError.from(err).code;
      if (attempt >= 5 || ![Code.Unavailable, Code.DeadlineExceeded, Code.ResourceExhausted].includes(code)) throw err;
      await Bun.sleep(1000 * attempt);
    }
  }
}
