/**
 * Bounded concurrency for loaders, tests and benchmarks: runs `work` over `items` with
 * at most `concurrency` in flight, in item order. The first rejection rejects the whole
 * run (items already started finish on their own).
 */
export async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i]!, i);
      }
    }),
  );
}

/**
 * Waits for every promise to settle, then rejects with the first rejection in the given
 * order (the others' reasons dropped), else resolves: work started together is never
 * abandoned half-run when one part fails (the consumers' merged handlers and waves).
 */
export async function settleAll(promises: Iterable<Promise<unknown> | undefined>): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
