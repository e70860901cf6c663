/**
 * Polling for tests that wait on something asynchronous (an event through the bus, a
 * cache filling): calls `fn` every `intervalMs` until `ok` holds or `timeoutMs` passes,
 * and returns the last value either way, so the test's own assertion on it reports
 * what was seen instead of a bare "timed out".
 */
export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000, intervalMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await Bun.sleep(intervalMs);
  }
}
