/**
 * Reading posts for a caller: load them (Redis first, versioned cache-aside; deleted
 * posts cached as tombstones), then keep only what the caller may see. Visibility needs
 * two facts per author: whether the account is private (identity, remembered in this
 * process for 10 s) and how the caller relates to them (graph, one batch call).
 */
import type { Client } from "@connectrpc/connect";
import { VersionedCache } from "#kit/cache.ts";
import type { MeshIdentity } from "#kit/mesh-keys.ts";
import type { Caller } from "#kit/call-context.ts";
import type { Pool } from "#kit/mysql.ts";
import type { Redis } from "#kit/redis.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { Post } from "#gen/oasis/post/v1/post_pb.ts";
import { AuthorPrivacy } from "../../shared-rules/author-privacy.ts";
import { decodeCachedPost, encodeCachedPost, POST_CACHE_ENTRY, POST_CACHE_TTL_S } from "../../shared-rules/post-cache.ts";
import { canSee, type ViewerRelation } from "./domain/rules.ts";
import { postsByIds, type StoredPost } from "./store.ts";

export class PostReader {
  private readonly cache: VersionedCache;
  private readonly privacy: AuthorPrivacy;

  constructor(
    private readonly db: Pool,
    redis: Redis,
    identity: Client<typeof IdentityService>,
    private readonly graph: Client<typeof GraphService>,
    private readonly meshSecret: MeshIdentity,
  ) {
    this.cache = new VersionedCache(redis, POST_CACHE_ENTRY, POST_CACHE_TTL_S);
    this.privacy = new AuthorPrivacy(identity);
  }

  /**
   * Stored posts by id (deleted ones flagged), from Redis where cached. The entry's format
   * is shared-rules/post-cache.ts's: interaction reads it there without a hop, so every
   * write of a post must `invalidate` it after its commit and before it answers.
   */
  async load(ids: readonly bigint[]): Promise<Map<bigint, StoredPost>> {
    const got = await this.cache.getMany(ids.map(String), async (missing) => {
      const rows = await postsByIds(this.db, missing.map(BigInt));
      return new Map([...rows].map(([id, s]) => [String(id), encodeCachedPost(s)]));
    });
    return new Map([...got].map(([k, v]) => [BigInt(k), decodeCachedPost(v)]));
  }

  /** Forget cached posts; call after the commit that changed them. */
  invalidate(ids: readonly bigint[]): Promise<void> {
    return this.cache.invalidate(ids.map(String));
  }


  /**
   * The live posts among `posts` that `viewer` may see, in the same order. A post taken
   * down by moderation, or whose author is suspended, is seen by no user (its author
   * included); services reading as themselves get it with `taken_down` or
   * `author_suspended` set and drop it from what they show.
   */
  async visible(viewer: Caller, all: readonly Post[]): Promise<Post[]> {
    if (all.length === 0) return [];
    if (viewer.service) return [...all];
    const posts = all.filter((p) => !p.takenDown && !p.authorSuspended);
    const authors = [...new Set(posts.map((p) => p.authorId))].filter((a) => a !== viewer.userId);
    const [privacy, rels] = await Promise.all([
      authors.length ? this.privacy.of(authors) : new Map<bigint, boolean>(),
      viewer.userId !== null && authors.length
        ? this.graph.batchGetRelationships({ userIds: authors }).then((r) => new Map<bigint, ViewerRelation>(r.relationships.map((x) => [x.userId, x])))
        : new Map<bigint, ViewerRelation>(),
    ]);
    return posts.filter((p) => canSee(p, viewer, privacy.get(p.authorId) ?? true, rels.get(p.authorId)));
  }

  /** Loads `ids` and returns the live, visible ones in request order. */
  async visibleByIds(viewer: Caller, ids: readonly bigint[]): Promise<Post[]> {
    const stored = await this.load(ids);
    const live = ids.map((id) => stored.get(id)).filter((s): s is StoredPost => !!s && !s.deleted).map((s) => s.post);
    return this.visible(viewer, live);
  }
}
