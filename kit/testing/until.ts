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

/**
 * Waits until `cond` holds, checking every `intervalMs`; throws "timed out waiting for
 * <what>" after `timeoutMs`. For conditions with nothing to report but yes or no.
 */
export async function untilTrue(cond: () => boolean | Promise<boolean>, timeoutMs = 15_000, intervalMs = 50, what = "the condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(intervalMs);
  }
}
