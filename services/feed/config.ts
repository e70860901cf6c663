/**
 * Feed's configuration. Env (optional, defaults in brackets):
 * - OASIS_FEED_FANOUT_THRESHOLD [10000]: authors with more followers are not fanned out
 *   but merged into readers' timelines at read time (Twitter's hybrid; Mastodon fans out
 *   to everyone, which is what breaks first at scale).
 * - OASIS_FEED_HOME_CAP [800]: post ids kept per home timeline (Twitter kept 800).
 * - OASIS_FEED_ACTIVE_DAYS [7]: fan-out only reaches users who read their feed within this.
 * - OASIS_FEED_BACKFILL [20]: a new follow copies the followee's latest posts.
 * - OASIS_FEED_READ_MODEL [1]: 0 hydrates every page from post, identity and interaction
 *   instead of the read model (read-model.ts); for A/B benchmarks and as a fallback.
 * - OASIS_FEED_FANOUT_BATCH [1000]: followers read from graph and pushed to per batch (one
 *   graph page, one Redis script); tests make it small so a post spans several batches.
 * - OASIS_FEED_FANOUT_CONCURRENCY [32]: post_created events fanned out at once. Each waits
 *   on graph and Redis most of its time, so at 4 a compose rate of ~30/s on a loaded 2-core
 *   box queued events for seconds (bench/social.ts OASIS_BENCH_COMPOSE_AB=fanout).
 * - OASIS_FEED_FOLLOWER_CACHE [1]: the fan-out reads the author's followers from the
 *   feed's own Redis (followers.ts) instead of asking graph per post; 0 asks graph every
 *   time (the sets are kept by their consumer either way). bench/social.ts
 *   OASIS_BENCH_COMPOSE_AB=followers.
 * - OASIS_FEED_FOLLOWERS_TTL [3600]: seconds a follower set is trusted before the next
 *   fan-out rebuilds it from graph (bounds a missed follow event).
 * - OASIS_FEED_ONE_TRIP_LIKES [1]: a post_liked / post_unliked event changes the read
 *   model in one Redis round trip (read-model.ts likeChanged: the likers set, its expiry,
 *   the counters' and the liker's state's fences in one pipeline); 0 takes three (liked,
 *   then touched's two invalidations).
 * - OASIS_FEED_ONE_TRIP_BACKFILL [1]: a follow_created's backfill (the followee's newest
 *   posts into the follower's home timeline) is one Redis script when the followee's
 *   timeline is built (timelines.ts backfill); 0 takes three round trips (built?, page, push).
 * - OASIS_FEED_BACKFILL_BUILT_HOME_FIRST [1]: the one-trip backfill looks at the
 *   follower's home first: a follower who has no built home timeline (has not read the
 *   feed lately) gets nothing pushed, so the followee's timeline is not built from post
 *   for it (a ListAuthorPostIds call and a write per cold followee).
 * - OASIS_FEED_GRAPH_MERGED [1]: graph's events are read by one consumer (`feed-graph`,
 *   graph-events.ts) that runs the backfill, the follower sets and the read model's
 *   relationship handlers together, batches of up to OASIS_FEED_GRAPH_BATCH [64] events
 *   at a time (one delivery, one decode, one ack per event instead of three; the Redis
 *   commands of a batch go out together), instead of the three consumers `feed-graph`,
 *   `feed-followers` and `feed-read-model-graph`, whose durables it deletes at start.
 * - OASIS_FEED_RM_POST_BATCH [64]: the read model's consumer of post's events takes the
 *   events that arrive together as batches of up to that many, applied one at a time in
 *   stream order (kit/consumer.ts overlappingBatch with every event a barrier) and acked
 *   together: one NATS write for a batch's acks instead of one per event; 0: one event at
 *   a time. bench/social.ts OASIS_BENCH_COMPOSE_AB=postbatch.
 * - OASIS_FEED_INTERACTION_BATCH [64]: the read model's consumer of interaction's events
 *   (likes, comments) takes what arrives together as batches of up to this many, started
 *   together in stream order (read-model-events.ts); 0 handles one event at a time.
 * - OASIS_FEED_LIKES_ONE_PIPELINE [1]: a batch of the interaction consumer sends its likes and
 *   unlikes in one Redis pipeline (read-model-events.ts likesBatch: one write, one span)
 *   instead of one pipeline each; 0: one each. Measured (bench/writes.ts, interleaved, four
 *   rounds, load 15-20): the feed's CPU per like 0.71/0.35/0.35/0.33 -> 0.59/0.33/0.27/0.31
 *   ms (bench/README.md stop 33, design note 65).
 * - OASIS_FEED_ONE_TRIP_CREATE [1]: the read model's post_created is the fan-out's seed
 *   (read-model.ts seedNewPost: one Redis script that writes only what no event wrote),
 *   and both take the post's stored bytes from the event's own (no encoding) and decode
 *   only the post's ids (shared-rules/post-created-head.ts); 0 decodes the whole post
 *   and writes it with putPost (three round trips, the post encoded by each consumer).
 *   bench/social.ts OASIS_BENCH_COMPOSE_AB=create.
 * - OASIS_FEED_ONE_TRIP_FANOUT [1]: a post_created's fan-out starts with one Redis script
 *   (followers.ts pushFirst: the read model's seed, the author's timeline, the celebrity
 *   check and the first batch of followers) where it took three round trips in a row
 *   (seed; author's timeline and celebrity check; first batch). Only with the follower
 *   sets (OASIS_FEED_FOLLOWER_CACHE). bench/social.ts OASIS_BENCH_COMPOSE_AB=fanouttrip.
 * - OASIS_FEED_RM_CREATE_SEED [0]: the read model's own post_created consumer seeds the
 *   post too (1), as the fan-out already does before any push; 0 leaves a post without a
 *   refer-to to the fan-out's seed (one Redis round trip less per compose).
 *   bench/social.ts OASIS_BENCH_COMPOSE_AB=rmseed.
 * - OASIS_FEED_REL_SET_AMEND [1]: a graph event amends the changed pair in each viewer's
 *   relationship set (`rm:rels`, page-path/pieces.ts amendRelationshipSets: fenced, graph
 *   asked as the viewer for that one user, written in place by one version-checked Lua
 *   call) instead of dropping the set, which made the viewer's next unknown relationship
 *   load the whole set again (ListRelationships); 0 drops, as before.
 * - OASIS_FEED_READ_REL_SETS [1]: GetHomeFeed and GetUserFeed take the viewer's
 *   relationships (the authors' on the page, the celebrities followed) from the viewer's
 *   complete relationship set when Redis has one (read-model.ts relationshipsFromSet), so
 *   a full read asks graph nothing; without a set, graph as before. A mute or block made
 *   straight on graph then shows once the feed consumed its event (design note 50); 0:
 *   graph on every read, as before.
 * - OASIS_FEED_POST_MERGED [1]: post's events are read by one consumer (`feed-fanout`,
 *   post-events.ts) that runs the fan-out's and the read model's handlers together, one
 *   post's events in stream order (kit/consumer.ts orderKey), others alongside, instead of
 *   the two consumers `feed-fanout` and `feed-read-model-post`, whose durable it deletes
 *   at start: every post event was delivered, decoded and acked twice. 0: two consumers
 *   (`feed-read-model-post` then starts at new events). bench/social.ts
 *   OASIS_BENCH_COMPOSE_AB=postmerged.
 */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";
import { boolEnv, nonNegativeIntEnv, positiveIntEnv } from "#kit/env.ts";

export interface FeedConfig extends BaseConfig {
  readonly fanoutThreshold: number;
  readonly homeCap: number;
  readonly userCap: number;
  readonly activeMs: number;
  readonly backfill: number;
  /** Followers per fan-out batch (one graph page, one Redis script). */
  readonly fanoutBatch: number;
  /** Fan-out messages handled at once (different posts in parallel). */
  readonly fanoutConcurrency: number;
  /** Fan-out reads followers from the feed's Redis (followers.ts), not from graph. */
  readonly followerCache: boolean;
  /** Seconds a follower set is trusted before a rebuild from graph. */
  readonly followersTtl: number;
  /** Pages are hydrated from the read model (read-model.ts), not from the services. */
  readonly readModel: boolean;
  /** Like events change the read model in one Redis round trip (read-model.ts likeChanged). */
  readonly oneTripLikes: boolean;
  /** A follow's backfill in one Redis script when the followee's timeline is built (timelines.ts backfill). */
  readonly oneTripBackfill: boolean;
  /** post_created's read-model write is the seed script, with the event's own post bytes. */
  readonly oneTripCreate: boolean;
  /** The fan-out's seed, author timeline, celebrity check and first follower batch in one Redis script (followers.ts pushFirst). */
  readonly oneTripFanout: boolean;
  /** The read model's post_created consumer seeds posts without a refer-to too (the fan-out always does). */
  readonly rmCreateSeed: boolean;
  /** The backfill pushes nothing, and builds nothing, for a follower without a built home (timelines.ts backfill). */
  readonly backfillBuiltHomeFirst: boolean;
  /** Graph's events through one batched consumer (graph-events.ts), not three. */
  readonly graphMerged: boolean;
  /** Most events per batch of the merged graph consumer. */
  readonly graphBatch: number;
  /** Most events per batch of the read model's interaction consumer (0: one at a time). */
  readonly interactionBatch: number;
  /** A batch's likes and unlikes in one Redis pipeline (read-model-events.ts likesBatch); needs interactionBatch and oneTripLikes. */
  readonly likesOnePipeline: boolean;
  /** Most events per batch of the read model's post consumer, applied in stream order (0: one at a time). */
  readonly rmPostBatch: number;
  /** Graph events amend the viewers' relationship sets in place (page-path/pieces.ts amendRelationshipSets) instead of dropping them. */
  readonly relSetAmend: boolean;
  /** The feed's own reads take the viewer's relationships from their complete set when there is one (read-model.ts relationshipsFromSet), else from graph. */
  readonly relSetReads: boolean;
  /** Post's events through one consumer (post-events.ts), not two. */
  readonly postMerged: boolean;
}

export function loadFeedConfig(env: Env = process.env): FeedConfig {
  const num = (k: string, d: number) => positiveIntEnv(env, k, d);
  return Object.freeze({
    ...baseConfig("feed", env),
    fanoutThreshold: nonNegativeIntEnv(env, "OASIS_FEED_FANOUT_THRESHOLD", 10_000),
    homeCap: num("OASIS_FEED_HOME_CAP", 800),
    userCap: num("OASIS_FEED_USER_CAP", 800),
    activeMs: num("OASIS_FEED_ACTIVE_DAYS", 7) * 24 * 3600 * 1000,
    backfill: nonNegativeIntEnv(env, "OASIS_FEED_BACKFILL", 20),
    fanoutBatch: num("OASIS_FEED_FANOUT_BATCH", 1000),
    fanoutConcurrency: num("OASIS_FEED_FANOUT_CONCURRENCY", 32),
    followerCache: boolEnv(env, "OASIS_FEED_FOLLOWER_CACHE", true),
    followersTtl: num("OASIS_FEED_FOLLOWERS_TTL", 3600),
    readModel: boolEnv(env, "OASIS_FEED_READ_MODEL", true),
    oneTripLikes: boolEnv(env, "OASIS_FEED_ONE_TRIP_LIKES", true),
    oneTripBackfill: boolEnv(env, "OASIS_FEED_ONE_TRIP_BACKFILL", true),
    oneTripCreate: boolEnv(env, "OASIS_FEED_ONE_TRIP_CREATE", true),
    oneTripFanout: boolEnv(env, "OASIS_FEED_ONE_TRIP_FANOUT", true),
    rmCreateSeed: boolEnv(env, "OASIS_FEED_RM_CREATE_SEED", false),
    backfillBuiltHomeFirst: boolEnv(env, "OASIS_FEED_BACKFILL_BUILT_HOME_FIRST", true),
    graphMerged: boolEnv(env, "OASIS_FEED_GRAPH_MERGED", true),
    graphBatch: num("OASIS_FEED_GRAPH_BATCH", 64),
    interactionBatch: nonNegativeIntEnv(env, "OASIS_FEED_INTERACTION_BATCH", 64),
    likesOnePipeline: boolEnv(env, "OASIS_FEED_LIKES_ONE_PIPELINE", true),
    rmPostBatch: nonNegativeIntEnv(env, "OASIS_FEED_RM_POST_BATCH", 64),
    relSetAmend: boolEnv(env, "OASIS_FEED_REL_SET_AMEND", true),
    relSetReads: boolEnv(env, "OASIS_FEED_READ_REL_SETS", true),
    postMerged: boolEnv(env, "OASIS_FEED_POST_MERGED", true),
  });
}
