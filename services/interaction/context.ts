/** Interaction's long-lived state: runtime, the store, clients of post, identity and graph, counters, viewer states, errors, per-process memos. */
import type { Client } from "@connectrpc/connect";
import { domainErrors, type DomainErrors } from "#kit/errors.ts";
import type { Runtime } from "#kit/runtime.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { ErrorReasonSchema, type ErrorReason } from "#gen/oasis/interaction/v1/errors_pb.ts";
import { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { InteractionConfig } from "./config.ts";
import { Counters } from "./counters.ts";
import type { Counts, GroupLike, InteractionStore } from "./domain/model.ts";
import { TxBatcher } from "#kit/tx-batcher.ts";
import { insertEvents } from "#kit/outbox.ts";
import { interactionStore } from "./store.ts";
import { ViewerStates } from "./viewer-state.ts";
import { AuthorPrivacy } from "../../shared-rules/author-privacy.ts";
import { createRedis, type Redis } from "#kit/redis.ts";
import { afterLikes } from "./domain/likes.ts";
import { graphRedisPrefix } from "../../shared-rules/graph-small-sets.ts";
import { postRedisPrefix } from "../../shared-rules/post-cache.ts";

export interface InteractionContext {
  readonly rt: Runtime<InteractionConfig>;
  readonly store: InteractionStore;
  readonly post: Client<typeof PostService>;
  readonly identity: Client<typeof IdentityService>;
  /** For the direct visibility check (domain/posts.ts): the author's relationship to the caller. */
  readonly graph: Client<typeof GraphService>;
  readonly counters: Counters;
  readonly viewerStates: ViewerStates;
  readonly errors: DomainErrors<ErrorReason>;
  /** Post -> author, for posts whose author is already recorded in posts_meta (authors never change). */
  readonly postAuthors: Map<bigint, bigint>;
  /** Authors' private flags, remembered 10 s (shared-rules/author-privacy.ts; domain/posts.ts). */
  readonly authorPrivacy: AuthorPrivacy;
  /**
   * A connection with graph's key prefix, for the authors' blocks and mutes graph keeps
   * in Redis (OASIS_INTERACTION_GRAPH_SETS; domain/posts.ts); undefined when off.
   */
  readonly graphRedis?: Redis;
  /**
   * A connection with post's key prefix, for the posts post keeps in Redis
   * (OASIS_INTERACTION_POST_CACHE; domain/posts.ts); undefined when off.
   */
  readonly postRedis?: Redis;
  /** Likes, several callers' in one transaction (OASIS_INTERACTION_GROUP_COMMIT; domain/likes.ts). */
  readonly likes: TxBatcher<GroupLike, Counts | undefined>;
}

export function createContext(rt: Runtime<InteractionConfig>): InteractionContext {
  const identity = rt.client(IdentityService, "identity");
  const otherRedis = (on: boolean, keyPrefix: string): Redis | undefined => {
    if (!on || !rt.config.directVisibility) return undefined;
    const redis = createRedis({ url: rt.config.redisUrl, keyPrefix, log: rt.log });
    rt.onStop(() => redis.disconnect());
    return redis;
  };
  const graphRedis = otherRedis(rt.config.graphSets, graphRedisPrefix(rt.config.namespace));
  const postRedis = otherRedis(rt.config.postCache, postRedisPrefix(rt.config.namespace));
  const counters = new Counters(rt.redis, rt.db);
  const viewerStates = new ViewerStates(rt.redis, rt.db);
  const redisAfter = rt.config.groupRedisOnce;
  // After likes committed (OASIS_INTERACTION_GROUP_REDIS_ONCE): the batch's Redis work in one pipeline.
  const stores = { redis: rt.redis, counters, viewerStates };
  return {
    rt,
    store: interactionStore,
    post: rt.client(PostService, "post"),
    identity,
    graph: rt.client(GraphService, "graph"),
    counters,
    viewerStates,
    errors: domainErrors<ErrorReason>("interaction", ErrorReasonSchema),
    postAuthors: new Map(),
    authorPrivacy: new AuthorPrivacy(identity),
    likes: new TxBatcher<GroupLike, Counts | undefined>({
      pool: rt.db,
      max: rt.config.groupCommit,
      plan: (likes) => interactionStore.likeGroupPlan(likes, rt.config.groupRows),
      // A batch of one, or each like of a failed batch: likeBatched with the same event
      // statement (and, with redisAfter, its own Redis work, which the caller then skips).
      alone: async (l) => {
        const counts = await rt.batchTx((tx) => interactionStore.likeBatched(tx, l.postId, l.userId, l.id, insertEvents([l.event])));
        if (redisAfter) await afterLikes(stores, [{ postId: l.postId, userId: l.userId, counts }]);
        return counts;
      },
      committed: () => rt.outbox.kick(),
      ...(redisAfter && {
        after: (likes: readonly GroupLike[], outcomes: ReadonlyArray<Counts | undefined | Error>) =>
          afterLikes(stores, likes.map((l, i) => ({ postId: l.postId, userId: l.userId, counts: outcomes[i] instanceof Error ? undefined : (outcomes[i] as Counts | undefined) }))),
      }),
      metrics: { registry: rt.metrics, name: "likes" },
    }),
    ...(graphRedis && { graphRedis }),
    ...(postRedis && { postRedis }),
  };
}
