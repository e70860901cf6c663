/**
 * Recounting: counters are recounted from the rows they count (likes, live comments,
 * refers), and post_counts and Redis are corrected where they differ. ReconcileCounts
 * can name posts; the periodic job (`reconcileTick`) takes the posts that changed since
 * its last run and, so that drift on posts nobody touches is found too, the next slice of
 * a sweep through every counted post.
 */
import type { InteractionContext } from "./context.ts";
import { countedPostsAfter, countsOf, recount, setCounts, type Counts } from "./store.ts";

type Values = Omit<Counts, "v">;
const same = (a: Values, b: Values) => a.likes === b.likes && a.comments === b.comments && a.refers === b.refers && a.dropsReceived === b.dropsReceived;
const none: Counts = { likes: 0n, comments: 0n, refers: 0n, dropsReceived: 0n, v: 0n };

/**
 * Rechecks `postIds`. MySQL first, in one transaction per 500 posts that locks their
 * post_counts rows before recounting: every writer changes the counted row and then its
 * post_counts row in one transaction, so under the lock a committed change is in both
 * the recount and the counters, and one still waiting for the lock adds its +1 or -1 to
 * the corrected value afterwards. Then Redis: a copy that differs from the result is
 * replaced unless it is newer (a change committed after the transaction).
 */
export async function reconcile(ctx: InteractionContext, postIds: readonly bigint[]): Promise<{ checked: number; fixed: number }> {
  let fixed = 0;
  for (let i = 0; i < postIds.length; i += 500) {
    const ids = postIds.slice(i, i + 500);
    const { now, fixedInMysql } = await ctx.rt.tx(async (tx) => {
      const stored = await countsOf(tx, ids, true);
      const truth = await recount(tx, ids);
      const now = new Map<bigint, Counts>();
      const fixedInMysql = new Set<bigint>();
      for (const id of ids) {
        const s = stored.get(id) ?? none;
        if (same(s, truth.get(id)!)) now.set(id, s);
        else {
          now.set(id, await setCounts(tx, id, truth.get(id)!));
          fixedInMysql.add(id);
        }
      }
      return { now, fixedInMysql };
    });
    const served = await ctx.counters.cached(ids);
    for (const id of ids) {
      const r = served.get(id);
      const repaired = !!r && !same(r, now.get(id)!) && (await ctx.counters.repair(id, now.get(id)!));
      if (repaired || fixedInMysql.has(id)) fixed++;
    }
  }
  if (fixed) ctx.rt.log.warn({ checked: postIds.length, fixed }, "reconcile fixed counters");
  return { checked: postIds.length, fixed };
}

/**
 * One run of the periodic job: the recently changed posts, and the next `sweepBatch`
 * counted posts after where the previous run stopped (starting over after the last), so
 * every post is rechecked within ceil(counted posts / sweepBatch) runs.
 */
export async function reconcileTick(ctx: InteractionContext, sweepBatch: number): Promise<{ checked: number; fixed: number }> {
  const dirty = await ctx.counters.takeDirty(10_000);
  const sweep = await countedPostsAfter(ctx.rt.db, await ctx.counters.sweepPosition(), sweepBatch);
  const r = await reconcile(ctx, [...new Set([...dirty, ...sweep])]);
  await ctx.counters.setSweepPosition(sweep.length < sweepBatch ? 0n : sweep.at(-1)!);
  return r;
}
