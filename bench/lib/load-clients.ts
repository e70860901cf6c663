/**
 * Closed-loop load from this process, for writes whose bodies differ per request (h2load
 * repeats one body): `concurrency` workers call `work(i)` for i = 0..n-1 and record
 * latencies. The client's own CPU is on the same 2 cores; the bench prints it.
 */
export interface LoopResult {
  readonly count: number;
  readonly seconds: number;
  readonly rate: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

export async function closedLoop(n: number, concurrency: number, work: (i: number) => Promise<unknown>): Promise<LoopResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
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
  return { count: n, seconds, rate: n / seconds, p50Ms: pct(50), p95Ms: pct(95), p99Ms: pct(99), errors };
}

/**
 * Closed-loop load for a fixed time: `concurrency` workers call `work(i)` with i = 0, 1,
 * 2, ... (each index once) until `seconds` have passed, then finish the calls in flight.
 * `count` is the calls made; errors are counted, not thrown.
 */
export async function closedLoopFor(seconds: number, concurrency: number, work: (i: number) => Promise<unknown>): Promise<LoopResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  const stop = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < stop) {
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
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  return { count: next, seconds: elapsed, rate: next / elapsed, p50Ms: pct(50), p95Ms: pct(95), p99Ms: pct(99), errors };
}
