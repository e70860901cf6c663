/**
 * Fan-out on write (the consumers of post and graph events):
 * - post_created: into the read model if its consumer has not put it there yet (so a
 *   page read after the push finds it), onto the author's timeline, then onto the home
 *   timelines of followers who read their feed in the last `activeMs`, a page of `fanoutBatch` (1,000) followers
 *   at a time: one Redis script a page when the author's follower set is in the feed's
 *   Redis (followers.ts, OASIS_FEED_FOLLOWER_CACHE), which reads the page of the set,
 *   checks who is active and pushes to them; else one graph call and one Redis script a
 *   page (the script checks who is active and pushes), and the pages read from graph
 *   become the author's follower set. Authors with more than `fanoutThreshold` followers are only marked as
 *   "celebrities"; readers merge their posts at read time. While the kill switch
 *   `fanout_pull` is on (kit/kill-switches.ts), every author is treated so; the first
 *   post after it cleared pushes the author's latest `backfill` posts and ends the merge.
 * - post_deleted: off the author's timeline and every follower's home timeline.
 * - follow_created: the followee's latest posts are copied into the follower's home.
 * - follow_removed (unfollow, block): the followee's posts leave the follower's home.
 *
 * Every step is a ZADD/ZREM of the same members, so a message delivered again (after a
 * crash mid-batch) changes nothing it already did: each (post, follower) lands exactly
 * once. The message is acknowledged only after its last batch.
 */
import { Histogram } from "prom-client";
import type { Registry } from "prom-client";
import { asService } from "#kit/client.ts";
import { on, type EventHandler, type EventMeta } from "#kit/consumer.ts";
import { FollowCreatedSchema, FollowRemovedSchema } from "#gen/oasis/graph/v1/events_pb.ts";
import { PostCreatedSchema, PostDeletedSchema } from "#gen/oasis/post/v1/events_pb.ts";
import { ensureUserTimeline } from "./domain/builders.ts";
import { storedPostFromEvent } from "./page-path/pieces.ts";
import { decodePostCreatedHead } from "../../shared-rules/post-created-head.ts";
import type { FeedContext } from "./context.ts";
import { ReadModel } from "./read-model.ts";

/** Calls `each` with pages of `fanoutBatch` follower ids and the follower total; `false` stops. */
async function forEachFollowerPage(ctx: FeedContext, author: bigint, each: (ids: bigint[], total: bigint) => Promise<boolean | void>): Promise<void> {
  let pageToken = "";
  do {
    const page = await ctx.graph.listFollowerIds({ userId: author, pageSize: ctx.rt.config.fanoutBatch, pageToken }, asService());
    if ((await each(page.userIds, page.total)) === false) return;
    pageToken = page.nextPageToken;
  } while (pageToken);
}

/** The fan-out's histograms: the whole lag, and its three stages. */
export interface FanoutMetrics {
  readonly lag: Histogram;
  readonly stages: Histogram<"stage">;
}

export function fanoutMetrics(registry: Registry): FanoutMetrics {
  return {
    lag: new Histogram({
      name: "feed_fanout_lag_seconds",
      help: "From post_created (commit time) to the last follower's home timeline holding the post.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    stages: new Histogram({
      name: "feed_fanout_stage_seconds",
      help:
        "The fan-out lag by stage: relay (commit time to stored in JetStream: post's outbox relay), " +
        "queue (stored to the fan-out handler's start: delivery and waiting for a free handler), push (the handler: follower pages and Redis).",
      labelNames: ["stage"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}

export function postConsumer(ctx: FeedContext, metrics: FanoutMetrics) {
  const cfg = ctx.rt.config;
  /** Records a finished fan-out: its lag and each stage's part (seconds). */
  const observe = (meta: EventMeta) => {
    const now = Date.now();
    metrics.lag.observe((now - meta.occurredAtMs) / 1000);
    metrics.stages.observe({ stage: "relay" }, Math.max(0, meta.storedAtMs - meta.occurredAtMs) / 1000);
    metrics.stages.observe({ stage: "queue" }, Math.max(0, meta.startedAtMs - meta.storedAtMs) / 1000);
    metrics.stages.observe({ stage: "push" }, (now - meta.startedAtMs) / 1000);
  };
  const handlers: EventHandler<any>[] = [
      on(PostCreatedSchema, async (e, meta) => {
        const post = e.post!;
        const stored = cfg.oneTripCreate ? storedPostFromEvent(post, meta.data) : undefined;
        const killed = ctx.rt.killSwitches.state().fanoutPullOnRead;
        let early: Promise<[unknown, boolean]>;
        let version: string | undefined;
        if (cfg.followerCache && cfg.oneTripFanout && !killed) {
          // One Redis script (followers.ts pushFirst): the seed, the author's timeline, the
          // celebrity check and the first batch of followers from the feed's own Redis.
          const since = Date.now() - cfg.activeMs;
          let r = await ctx.followers.pushFirst(post.authorId, post.postId, ReadModel.seedParts(post, stored), cfg.userCap, cfg.fanoutBatch, cfg.fanoutThreshold, cfg.homeCap, since);
          early = Promise.resolve([undefined, r.kind === "merged"]);
          for (let from = 0; r.kind !== "merged"; ) {
            if (r.kind === "miss") {
              version = r.version;
              break;
            }
            // Above the threshold the script has added the author to `celebs`.
            if (r.kind === "celeb" || from + cfg.fanoutBatch >= r.followers) {
              observe(meta);
              return;
            }
            from += cfg.fanoutBatch;
            r = await ctx.followers.push(post.authorId, from, cfg.fanoutBatch, cfg.fanoutThreshold, cfg.homeCap, since, [post.postId]);
            if (r.kind === "celeb") await ctx.timelines.addCeleb(post.authorId);
          }
        } else {
          // The read model holds the post before any timeline does (its own consumer may run
          // later): every push below waits for `seeded`.
          const seeded = ctx.readModel.seedNewPost(post, stored);
          // Kill switch "fanout_pull": the author is merged at read time, as celebrities are.
          if (killed) {
            await seeded;
            await ctx.timelines.pushUser(post.authorId, [post.postId]);
            await ctx.timelines.addCeleb(post.authorId);
            observe(meta);
            return;
          }
          // The seed, the author's timeline and whether the author is merged at read time go
          // alongside the first follower page, not before it.
          early = seeded.then(() => Promise.all([ctx.timelines.pushUser(post.authorId, [post.postId]), ctx.timelines.isCeleb(post.authorId)]));
          void early.catch(() => {}); // awaited below; if graph fails first, its error is the one thrown
          // The followers from the feed's own Redis (followers.ts): no graph call. Not while
          // the author is merged at read time (the rare backfill below needs graph's path).
          if (cfg.followerCache) {
            const [, merged] = await early;
            if (!merged) {
              const since = Date.now() - cfg.activeMs;
              for (let from = 0; ; from += cfg.fanoutBatch) {
                const r = await ctx.followers.push(post.authorId, from, cfg.fanoutBatch, cfg.fanoutThreshold, cfg.homeCap, since, [post.postId]);
                if (r.kind === "miss") {
                  version = r.version;
                  break;
                }
                if (r.kind === "celeb") await ctx.timelines.addCeleb(post.authorId);
                if (r.kind === "celeb" || from + cfg.fanoutBatch >= r.followers) {
                  observe(meta);
                  return;
                }
              }
            }
          }
        }
        // From graph, a page at a time; a missing follower set is stored from the same pages.
        let pushed = [post.postId];
        const all: bigint[] = [];
        let complete = true;
        await forEachFollowerPage(ctx, post.authorId, async (ids, total) => {
          const [, merged] = await early;
          if (total > BigInt(cfg.fanoutThreshold)) {
            await ctx.timelines.addCeleb(post.authorId);
            complete = false;
            return false;
          }
          if (version !== undefined) all.push(...ids);
          // Merged at read time until now (a fan-out degradation ended): push the author's
          // latest posts once, so none of those is lost when the merge stops.
          if (pushed.length === 1 && merged && (await ctx.timelines.removeCeleb(post.authorId))) {
            pushed = [...new Set([post.postId, ...(await ctx.timelines.page("ut", post.authorId, undefined, cfg.backfill)).ids])];
          }
          // The active-reader check runs inside the push script: one Redis round trip a page.
          await ctx.timelines.pushActiveHome(ids, Date.now() - cfg.activeMs, pushed);
        });
        await early;
        if (version !== undefined && complete) await ctx.followers.store(post.authorId, version, all);
        observe(meta);
        // With OASIS_FEED_ONE_TRIP_CREATE only the post's ids are read from the event: the
        // read model's bytes are the event's own (storedPostFromEvent).
      }, cfg.oneTripCreate ? decodePostCreatedHead : undefined),
      on(PostDeletedSchema, async (e) => {
        await ctx.timelines.removeUser(e.authorId, [e.postId]);
        await forEachFollowerPage(ctx, e.authorId, async (ids) => {
          await ctx.timelines.removeHome(ids, [e.postId]);
        });
      }),
  ];
  // One event per handler, `fanoutConcurrency` at a time. Batches of events acked together
  // (OASIS_FEED_FANOUT_EVENT_BATCH, stop 29) did not pay and were removed (design note 55).
  return { name: "feed-fanout", concurrency: cfg.fanoutConcurrency, handlers };
}

/**
 * `feed-followers`: keeps the follower sets (followers.ts) by graph's follow events, in
 * stream order (concurrency 1), from the events after the consumer was created (a set is
 * only ever built after that). Runs whether or not the fan-out reads the sets
 * (OASIS_FEED_FOLLOWER_CACHE), so turning it on never finds a set that missed events.
 */
export function followersConsumer(ctx: FeedContext) {
  return {
    name: "feed-followers",
    deliver: "new" as const,
    handlers: [
      on(FollowCreatedSchema, async (e) => ctx.followers.changed(e.followeeId, e.followerId, true)),
      on(FollowRemovedSchema, async (e) => ctx.followers.changed(e.followeeId, e.followerId, false)),
    ],
  };
}

/** A follow's backfill when the followee's timeline is not built: build it, then push its newest posts to the follower's home timeline. */
export async function backfillBuilding(ctx: FeedContext, followee: bigint, follower: bigint): Promise<void> {
  await ensureUserTimeline(ctx, followee);
  const latest = await ctx.timelines.page("ut", followee, undefined, ctx.rt.config.backfill);
  await ctx.timelines.pushHome([follower], latest.ids);
}

/** `feed-graph`: a follow backfills the followee's newest posts into the follower's home timeline; an unfollow removes them. */
export function graphConsumer(ctx: FeedContext) {
  const cfg = ctx.rt.config;
  return {
    name: "feed-graph",
    handlers: [
      on(FollowCreatedSchema, async (e) => {
        // One round trip when the followee's timeline is built (OASIS_FEED_ONE_TRIP_BACKFILL).
        if (cfg.oneTripBackfill && (await ctx.timelines.backfill(e.followeeId, e.followerId, cfg.backfill, cfg.backfillBuiltHomeFirst)) >= 0) return;
        await backfillBuilding(ctx, e.followeeId, e.followerId);
      }),
      on(FollowRemovedSchema, async (e) => {
        await ensureUserTimeline(ctx, e.followeeId);
        await ctx.timelines.removeHome([e.followerId], await ctx.timelines.allUser(e.followeeId));
      }),
    ],
  };
}
