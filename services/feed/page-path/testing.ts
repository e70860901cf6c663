/**
 * A small read model written straight into Redis in the page script's formats, for the
 * page path's tests against a real Redis (tracking.test.ts, held.test.ts): viewer V
 * follows authors A and B; V's home timeline holds 14 public posts, alternately B's and
 * A's, post 12 referring to a post of B's (`referred`); each post has counters, both
 * authors profiles, V relationship pairs with both. With `userTimeline`, A's user
 * timeline (ub/ut) holds A's posts too.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import type { Redis } from "ioredis";
import { RelationshipSchema } from "#gen/oasis/graph/v1/graph_pb.ts";
import { ProfileSchema } from "#gen/oasis/identity/v1/profile_pb.ts";
import { PostCountsSchema } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { PostSchema, Visibility } from "#gen/oasis/post/v1/post_pb.ts";
import { createIdGenerator, idTimeMs } from "#kit/ids.ts";
import { encodeStoredPost } from "./pieces.ts";

/** A stored public post as the read model keeps it (rm:post). */
export const storedPost = (id: bigint, author: bigint, caption: string, refer = 0n) =>
  encodeStoredPost(create(PostSchema, { postId: id, authorId: author, caption, visibility: Visibility.PUBLIC, referPostId: refer }));
/** A post's counters (rm:counts). */
export const storedCounts = (id: bigint, likes: bigint) => Buffer.from(toBinary(PostCountsSchema, create(PostCountsSchema, { postId: id, likes })));
/** An author's profile (rm:author). */
export const storedProfile = (id: bigint, name: string) => Buffer.from(toBinary(ProfileSchema, create(ProfileSchema, { userId: id, handle: `u${id}`, displayName: name })));
/** A viewer's relationship to `id` (rm:rel). */
export const storedRel = (id: bigint, r: { following?: boolean; muting?: boolean }) => Buffer.from(toBinary(RelationshipSchema, create(RelationshipSchema, { userId: id, ...r })));

export interface PagePathFixture {
  readonly ids: ReturnType<typeof createIdGenerator>;
  readonly V: bigint;
  readonly A: bigint;
  readonly B: bigint;
  /** The 14 posts of V's home timeline, oldest first. */
  readonly posts: bigint[];
  readonly referred: bigint;
  /** Writes the read model under key prefix `P` through `redis` (one MULTI). */
  seed(redis: Redis, P: string): Promise<void>;
}

/** The fixture's ids from a generator of worker `worker` (tests in one process use different workers). */
export function pagePathFixture(worker: number, opts: { userTimeline?: boolean } = {}): PagePathFixture {
  const ids = createIdGenerator(worker);
  const [V, A, B] = [ids.next(), ids.next(), ids.next()];
  const posts: bigint[] = [];
  const referred = ids.next();
  return {
    ids,
    V,
    A,
    B,
    posts,
    referred,
    async seed(redis, P) {
      const m = redis.multi();
      m.set(`${P}rm:page-path`, "604800000 604800 1 ");
      m.set(`${P}hb:${V}`, "1");
      if (opts.userTimeline) m.set(`${P}ub:${A}`, "1");
      m.zadd(`${P}active`, Date.now(), String(V));
      m.set(`${P}rm:post:${referred}`, storedPost(referred, B, "the referred one"));
      for (let i = 0; i < 14; i++) {
        const id = ids.next();
        posts.push(id);
        const author = i % 2 ? A : B;
        m.set(`${P}rm:post:${id}`, storedPost(id, author, `post ${i}`, i === 12 ? referred : 0n));
        m.set(`${P}rm:counts:${id}`, storedCounts(id, BigInt(i)));
        m.set(`${P}rm:whole:${id}`, "1");
        m.zadd(`${P}ht:${V}`, idTimeMs(id), String(id));
        if (opts.userTimeline && author === A) m.zadd(`${P}ut:${A}`, idTimeMs(id), String(id));
      }
      m.set(`${P}rm:author:${A}`, storedProfile(A, "Ann"));
      m.set(`${P}rm:author:${B}`, storedProfile(B, "Bo"));
      m.set(`${P}rm:rel:${V}:${A}`, storedRel(A, { following: true }));
      m.set(`${P}rm:rel:${V}:${B}`, storedRel(B, { following: true }));
      await m.exec();
    },
  };
}
