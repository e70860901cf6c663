/**
 * A follow_created's Redis work in the feed in one call (design note 68: the feed's CPU
 * per follow 0.47 -> 0.42 ms and Redis's 0.22 -> 0.21 at load 5-6, lower in all four
 * rounds of two interleaved runs). The merged graph consumer (graph-events.ts) ran three handlers for it, each
 * with its own script call: the backfill (fanout.ts graphConsumer, timelines.ts
 * backfillScript), the follower set (fanout.ts followersConsumer, followers.ts
 * applyScript) and the fence of both users' relationship sets (read-model-events.ts
 * graphReadModelConsumer: ReadModel.relationshipsChanged, page-path/pieces.ts
 * relSetsFenceScript). The three scripts touch different keys and none needs another's
 * answer, so one script runs them, unchanged, one after another; what each handler did
 * after its call follows as before: the backfill's slow path when the followee's
 * timeline is not built, and relationshipsChanged's second half (the sets' amend with
 * graph's answer, then the cached pairs' fence and refresh, in that order). Idempotent
 * as the three were (ZADD, version bumps, fences), so a batch redone event by event
 * repeats nothing harmful.
 */
import { settleAll } from "#kit/parallel.ts";
import type { FollowCreated } from "#gen/oasis/graph/v1/events_pb.ts";
import type { Redis } from "#kit/redis.ts";
import type { FeedContext } from "./context.ts";
import { backfillBuilding } from "./fanout.ts";
import { applyScript, FollowerSets } from "./followers.ts";
import { relSetKeysOf, relSetsFenceScript } from "./page-path/pieces.ts";
import { backfillScript } from "./timelines.ts";

/** The three scripts as local functions of one (each keeps its own KEYS and ARGV), run in order. */
const followCreatedScript = `
local function backfill(KEYS, ARGV)
${backfillScript}
end
local function apply(KEYS, ARGV)
${applyScript}
end
local function fence(KEYS, ARGV)
${relSetsFenceScript}
end
local function part(t, from, n)
  local o = {}
  for i = 1, n do o[i] = t[from + i - 1] end
  return o
end
local b = backfill(part(KEYS, 1, 5), part(ARGV, 1, 3))
apply(part(KEYS, 6, 3), part(ARGV, 4, 2))
return {b, fence(part(KEYS, 9, 4), {})}
`;

type FollowCreatedRedis = Redis & { oasisFeedFollowCreated(numKeys: number, ...args: Array<string | number>): Promise<[number, string[]]> };

/**
 * The handler of follow_created in one script call (see the top of this file), for the
 * merged graph consumer with the one-trip backfill and the sets amended
 * (OASIS_FEED_ONE_TRIP_BACKFILL, OASIS_FEED_REL_SET_AMEND). Rejects with the first error
 * once both follow-ups settled, as the merged consumer's handlers do.
 */
export function followCreatedInOneCall(ctx: FeedContext): (e: FollowCreated) => Promise<void> {
  if (!("oasisFeedFollowCreated" in ctx.rt.redis)) ctx.rt.redis.defineCommand("oasisFeedFollowCreated", { lua: followCreatedScript });
  const redis = ctx.rt.redis as FollowCreatedRedis;
  const cfg = ctx.rt.config;
  return async (e) => {
    const [follower, followee] = [e.followerId, e.followeeId];
    const keys = [`ub:${followee}`, `ut:${followee}`, "delivered:home", `ht:${follower}`, `hb:${follower}`, ...FollowerSets.keys(followee), ...relSetKeysOf("", follower), ...relSetKeysOf("", followee)];
    const [backfilled, fenced] = await redis.oasisFeedFollowCreated(keys.length, ...keys, cfg.backfill, cfg.homeCap, cfg.backfillBuiltHomeFirst ? "1" : "0", String(follower), "1");
    await settleAll([
      backfilled >= 0 ? undefined : backfillBuilding(ctx, followee, follower),
      ctx.readModel.relationshipsChanged(ctx, [[follower, followee], [followee, follower]], true, fenced),
    ]);
  };
}
