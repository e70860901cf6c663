/** Post's long-lived state: runtime, the store, clients of identity/graph/media, media's cache, the reader, errors. */
import type { Client } from "@connectrpc/connect";
import { domainErrors, type DomainErrors } from "#kit/errors.ts";
import { createRedis, type Redis } from "#kit/redis.ts";
import type { Runtime } from "#kit/runtime.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import { ErrorReasonSchema, type ErrorReason } from "#gen/oasis/post/v1/errors_pb.ts";
import type { PostConfig } from "./config.ts";
import type { PostStore } from "./domain/model.ts";
import { PostReader } from "./reader.ts";
import { postStore } from "./store.ts";
import { mediaRedisPrefix } from "../../shared-rules/media-cache.ts";

export interface PostContext {
  readonly rt: Runtime<PostConfig>;
  readonly store: PostStore;
  readonly identity: Client<typeof IdentityService>;
  readonly media: Client<typeof MediaService>;
  readonly reader: PostReader;
  readonly errors: DomainErrors<ErrorReason>;
  /**
   * A connection with media's key prefix, for the media and policies media keeps in Redis
   * (OASIS_POST_MEDIA_CACHE; domain/posts.ts); undefined when off.
   */
  readonly mediaRedis?: Redis;
}

export function createContext(rt: Runtime<PostConfig>): PostContext {
  const identity = rt.client(IdentityService, "identity");
  let mediaRedis: Redis | undefined;
  if (rt.config.mediaCache) {
    mediaRedis = createRedis({ url: rt.config.redisUrl, keyPrefix: mediaRedisPrefix(rt.config.namespace), log: rt.log });
    rt.onStop(() => mediaRedis!.disconnect());
  }
  return {
    rt,
    store: postStore,
    identity,
    media: rt.client(MediaService, "media"),
    reader: new PostReader(rt.db, rt.redis, identity, rt.client(GraphService, "graph"), rt.config.meshSecret),
    errors: domainErrors<ErrorReason>("post", ErrorReasonSchema),
    ...(mediaRedis && { mediaRedis }),
  };
}
