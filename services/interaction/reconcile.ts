/**
 * Recounting: counters are recounted from the rows they count (likes, live comments,
 * refers), and post_counts and Redis are corrected where they differ. The periodic job
 * takes the posts that changed since its last run; ReconcileCounts can name posts.
 */
import type { InteractionContext } from "./context.ts";
import { countsOf, recount, setCounts } from "./store.ts";

export async function reconcile(ctx: InteractionContext, postIds: readonly bigint[]): Promise<{ checked: number; fixed: number }> {
  let fixed = 0;
  for (let i = 0; i < postIds.length; i += 500) {
    const ids = postIds.slice(i, i + 500);
    const [truth, stored, served] = await Promise.all([recount(ctx.rt.db, ids), countsOf(ctx.rt.db, ids), ctx.counters.get(ids)]);
    for (const id of ids) {
      const t = truth.get(id)!;
      const s = stored.get(id);
      const r = served.get(id)!;
      const same = (a: { likes: bigint; comments: bigint; refers: bigint } | undefined) =>
        !!a && a.likes === t.likes && a.comments === t.comments && a.refers === t.refers;
      if (same(s) && same(r)) continue;
      fixed++;
      const now = same(s) ? s! : await ctx.rt.tx((tx) => setCounts(tx, id, t));
      // Drop the Redis copy and publish the recount (a new version, so it wins).
      await ctx.counters.forget(id);
      await ctx.counters.publish(id, now);
    }
  }
  if (fixed) ctx.rt.log.warn({ checked: postIds.length, fixed }, "reconcile fixed counters");
  return { checked: postIds.length, fixed };
}
