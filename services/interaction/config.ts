/**
 * Interaction's configuration. Env (optional):
 * - OASIS_INTERACTION_RECONCILE_MS [60000]: how often the reconcile job runs.
 * - OASIS_INTERACTION_RECONCILE_SWEEP_BATCH [2000]: posts of post_counts each run
 *   rechecks besides the recently changed ones, walking the table by post id and starting
 *   over at the end. Every post is rechecked within ceil(posts / batch) runs: with the
 *   defaults, 2.9M posts a day. Drift that no change touches (a bad Redis node, a manual
 *   fix in MySQL) is therefore found even on posts nobody interacts with any more.
 * - OASIS_INTERACTION_BATCHED_WRITES [1]: a like is one transaction in one round trip
 *   (store.ts likeBatched); 0 runs it statement by statement (the A/B switch of
 *   bench/interaction.ts).
 * - OASIS_INTERACTION_DIRECT_VISIBILITY [1]: interaction checks that the caller may see
 *   a post itself (domain/posts.ts: the post read as the service, the author's private
 *   flag, graph asked as the author) and puts the author's mute into post_liked; 0 asks
 *   post.GetPost as the caller, which asks graph (the chain of stop 26).
 * - OASIS_INTERACTION_GRAPH_SETS [1]: with the direct check, a like, comment or other
 *   act on a public post of a public author reads the author's blocks and mutes from
 *   graph's cached small sets in Redis (shared-rules/graph-small-sets.ts peekBlocksAndMute: one GET on a
 *   connection with graph's key prefix, same Redis as OASIS_REDIS_URL) instead of a
 *   BatchGetRelationships hop; graph is asked as before when the entry is not cached or
 *   the post needs follow flags (a private author, a followers-only post). 0: graph asked.
 * - OASIS_INTERACTION_POST_CACHE [1]: with the direct check, the post is read from post's
 *   own cache in Redis (shared-rules/post-cache.ts peekPost: one GET on a connection with
 *   post's key prefix, same Redis as OASIS_REDIS_URL) instead of a post.GetPost hop; post
 *   is asked as before when the entry is not cached (its answer fills it). 0: post asked.
 * - OASIS_INTERACTION_GROUP_COMMIT [64]: group commit: the likes that concurrent calls
 *   hand in while a like's transaction runs go together in one transaction of one round
 *   trip, at most this many (store.ts likeGroupPlan, kit/tx-batcher.ts; design note 64);
 *   0 or 1: each like alone.
 * - OASIS_INTERACTION_GROUP_ROWS [1]: a group commit's likes in one multi-row INSERT and
 *   their events in one statement (store.ts likeGroupPlan `rows`) instead of three
 *   statements per like (design note 64); 0: three per like.
 * - OASIS_INTERACTION_GROUP_REDIS_ONCE [1]: after a group commit, the counters of its posts
 *   (once each) and its likers' viewer states go to Redis in one pipeline for the batch,
 *   before its calls are answered, instead of one pipeline per like (design note 64); 0:
 *   one per like.
 * Interaction reads no post_created: a refer-to's creation comes as post_referred (consumer
 * `interaction-refers`), deletions as post_deleted (`interaction-posts`), and a post's
 * posts_meta row (its author, read by unlike and comment deletion) is written by the
 * first like or comment on it (domain/posts.ts checkedPost; design notes 63 and 67).
 */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";
import { boolEnv, nonNegativeIntEnv, positiveIntEnv } from "#kit/env.ts";

export interface InteractionConfig extends BaseConfig {
  readonly reconcileMs: number;
  readonly reconcileSweepBatch: number;
  /** Likes use store.ts likeBatched (one round trip). */
  readonly batchedWrites: boolean;
  /** Visibility checked here, not by post.GetPost as the caller (domain/posts.ts). */
  readonly directVisibility: boolean;
  /** Blocks and mutes of a public post's author from graph's Redis cache (domain/posts.ts). */
  readonly graphSets: boolean;
  /** The post read from post's Redis cache before asking post.GetPost (domain/posts.ts). */
  readonly postCache: boolean;
  /** Most likes per group-commit transaction; <= 1: each alone. */
  readonly groupCommit: number;
  /** A group commit's likes and events in two multi-row statements (store.ts likeGroupPlan). */
  readonly groupRows: boolean;
  /** A group commit's Redis work in one pipeline for the batch (context.ts afterLikes). */
  readonly groupRedisOnce: boolean;
}

const positiveInteger = positiveIntEnv;

export function loadInteractionConfig(env: Env = process.env): InteractionConfig {
  return Object.freeze({
    ...baseConfig("interaction", env),
    reconcileMs: positiveInteger(env, "OASIS_INTERACTION_RECONCILE_MS", 60_000),
    reconcileSweepBatch: positiveInteger(env, "OASIS_INTERACTION_RECONCILE_SWEEP_BATCH", 2_000),
    batchedWrites: boolEnv(env, "OASIS_INTERACTION_BATCHED_WRITES", true),
    directVisibility: boolEnv(env, "OASIS_INTERACTION_DIRECT_VISIBILITY", true),
    graphSets: boolEnv(env, "OASIS_INTERACTION_GRAPH_SETS", true),
    postCache: boolEnv(env, "OASIS_INTERACTION_POST_CACHE", true),
    groupCommit: nonNegativeIntEnv(env, "OASIS_INTERACTION_GROUP_COMMIT", 64),
    groupRows: boolEnv(env, "OASIS_INTERACTION_GROUP_ROWS", true),
    groupRedisOnce: boolEnv(env, "OASIS_INTERACTION_GROUP_REDIS_ONCE", true),
  });
}
