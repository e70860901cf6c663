/**
 * PostService on real processes: creating posts from real photos and captions (CJK
 * hashtags, mentions), idempotency, media ownership, caption limits, edits with history,
 * deletes, and visibility: a followers-only post never reaches a non-follower through
 * GetPost, BatchGetPosts, ListUserPosts or a refer-to.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code } from "@connectrpc/connect";
import { ErrorInfoSchema } from "#gen/google/rpc/error_details_pb.ts";
import { Visibility } from "#gen/oasis/post/v1/post_pb.ts";
import { errorReason, violatedFields } from "#kit/errors.ts";
import { until } from "#kit/testing/until.ts";
import { baseConfig } from "#kit/config.ts";
import { connectPool } from "#kit/mysql.ts";
import { readEdges, readFortunes } from "../../demo/data.ts";
import { startSocialTestbed, type SocialTestbed } from "../../testbeds/social.ts";
import { failure } from "#kit/testing/errors.ts";
import { createRedis } from "#kit/redis.ts";
import { createLogger } from "#kit/logger.ts";
import { mediaRedisPrefix, peekMedia } from "../../shared-rules/media-cache.ts";

let bed: SocialTestbed;
let [alice, bob, carol, dave]: bigint[] = [];
const members = [...new Set(readEdges().flat())].slice(200, 204);
const poem = readFortunes("zh-tang300.fortune")[3]!;

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post"]);
  [alice, bob, carol, dave] = await bed.users(members);
  // bob follows alice; alice and carol are mutual fans; dave follows nobody.
  await bed.graph(bob).follow({ userId: alice! });
  await bed.graph(carol).follow({ userId: alice! });
  await bed.graph(alice).follow({ userId: carol! });
});
afterAll(() => bed?.stop());

describe("CreatePost", () => {
  test("real photos and a real caption: hashtags in any script, mentions resolved, idempotent", async () => {
    const m1 = await bed.photo(alice!, 0);
    const m2 = await bed.photo(alice!, 1);
    const caption = `${poem}\n#春天 #Tang诗 #spring @reed_${members[1]} @nobody_here_at_all`;
    const req = { mediaIds: [m1, m2], caption, requestId: "post-1" };
    const { post } = await bed.post(alice).createPost(req);
    expect(post!.authorId).toBe(alice!);
    expect(post!.media.map((m) => m.id)).toEqual([m1, m2]);
    expect(post!.hashtags).toEqual(["春天", "tang诗", "spring"]);
    expect(post!.mentions.map((m) => m.userId)).toEqual([bob!]);
    expect(post!.createdAt).toBeDefined();
    expect((await bed.post(alice).createPost(req)).post!.postId).toBe(post!.postId);
  });

  test("media must be the author's own; captions are counted as people count characters", async () => {
    const bobs = await bed.photo(bob!, 2);
    const err = await failure(bed.post(alice).createPost({ mediaIds: [bobs], caption: "not mine" }));
    expect(errorReason(err)).toBe("MEDIA_NOT_USABLE");
    expect(violatedFields(err)).toEqual(["media_ids[0]"]);
    expect(errorReason(await failure(bed.post(alice).createPost({ caption: "no photo" })))).toBe("MEDIA_REQUIRED");
    const mine = await bed.photo(alice!, 3);
    // 2,200 family emoji are 2,200 characters (but 11,000 code points): allowed.
    const family = "👩‍👩‍👧".repeat(2200);
    expect((await bed.post(alice).createPost({ mediaIds: [mine], caption: family.slice(0, family.length) })).post!.caption).toBe(family);
    const tooLong = await failure(bed.post(alice).createPost({ mediaIds: [mine], caption: "春".repeat(2201) }));
    expect(errorReason(tooLong)).toBe("CAPTION_TOO_LONG");
  });
});

describe("CreatePost with media's cache (OASIS_POST_MEDIA_CACHE)", () => {
  test("an upload is cached before it answers; a deleted photo is refused at once", async () => {
    const redis = createRedis({ url: baseConfig("post", bed.mesh.env).redisUrl, keyPrefix: mediaRedisPrefix(bed.mesh.namespace), log: createLogger("post-test", "silent") });
    try {
      const photo = await bed.photo(dave!, 20);
      // Written through by the upload: the create below reads it without asking media.
      expect((await peekMedia(redis, [photo]))?.media.get(photo)?.ownerId).toBe(dave!);
      expect((await bed.post(dave).createPost({ mediaIds: [photo], caption: "cached" })).post!.media[0]!.id).toBe(photo);
      await bed.media(dave).deleteMedia({ mediaId: photo });
      expect(await peekMedia(redis, [photo])).toBeUndefined();
      const err = await failure(bed.post(dave).createPost({ mediaIds: [photo], caption: "deleted" }));
      expect(errorReason(err)).toBe("MEDIA_NOT_USABLE");
      expect(violatedFields(err)).toEqual(["media_ids[0]"]);
    } finally {
      redis.disconnect();
    }
  });
});

describe("CreatePost of a suspended author", () => {
  test("with a request id it is stored flagged (one round trip refused, two taken), and its retry replays it; a create from before the suspension still replays", async () => {
    const cfg = baseConfig("post", bed.mesh.env);
    const db = connectPool(cfg.mysqlUrl, cfg.database, 1);
    try {
      const before = (await bed.post(dave).createPost({ mediaIds: [await bed.photo(dave!, 4)], caption: "before the suspension", requestId: "susp-0" })).post!;
      expect(before.authorSuspended).toBe(false);
      // A suspension in force, as post's consumer of moderation's action records it.
      await db.query("INSERT INTO suspensions (user_id, action_id) VALUES (?, 1)", [dave]);
      const req = { mediaIds: [await bed.photo(dave!, 5)], caption: "while suspended", requestId: "susp-1" };
      const post = (await bed.post(dave).createPost(req)).post!;
      expect(post.authorSuspended).toBe(true);
      const stored = (await bed.post("service").batchGetPosts({ postIds: [post.postId] })).posts;
      expect(stored.map((p) => p.authorSuspended)).toEqual([true]);
      expect((await bed.post(dave).createPost(req)).post!.postId).toBe(post.postId);
      // Without a request id too (OASIS_POST_ONE_TRIP_WITHOUT_ID: the guard refuses, the two round trips flag it).
      expect((await bed.post(dave).createPost({ mediaIds: [await bed.photo(dave!, 6)], caption: "no id while suspended" })).post!.authorSuspended).toBe(true);
      const replay = (await bed.post(dave).createPost({ mediaIds: before.media.map((m) => m.id), caption: "before the suspension", requestId: "susp-0" })).post!;
      expect([replay.postId, replay.authorSuspended]).toEqual([before.postId, false]);
    } finally {
      await db.query("DELETE FROM suspensions WHERE user_id = ?", [dave]);
      await db.end();
    }
  });
});

describe("visibility", () => {
  let followersOnly: bigint;
  let mutualOnly: bigint;
  beforeAll(async () => {
    followersOnly = (await bed.post(alice).createPost({ mediaIds: [await bed.photo(alice!, 4)], caption: "for followers", visibility: Visibility.FOLLOWERS })).post!.postId;
    mutualOnly = (await bed.post(alice).createPost({ mediaIds: [await bed.photo(alice!, 5)], caption: "for mutual fans", visibility: Visibility.MUTUAL_FANS })).post!.postId;
  });

  test("a followers-only post never reaches a non-follower, through any RPC", async () => {
    // dave does not follow alice; the anonymous caller follows nobody.
    for (const who of [dave!, null]) {
      expect(errorReason(await failure(bed.post(who).getPost({ postId: followersOnly })))).toBe("POST_NOT_FOUND");
      expect((await bed.post(who).batchGetPosts({ postIds: [followersOnly, mutualOnly] })).posts).toHaveLength(0);
      const list = await bed.post(who).listUserPosts({ userId: alice!, pageSize: 100 });
      expect(list.posts.map((p) => p.postId)).not.toContain(followersOnly);
    }
    const refer = await failure(bed.post(dave).createPost({ referPostId: followersOnly, caption: "look" }));
    expect(errorReason(refer)).toBe("REFERRED_POST_UNAVAILABLE");
    // Followers see it; only mutual fans see the mutual one.
    expect((await bed.post(bob).getPost({ postId: followersOnly })).post!.caption).toBe("for followers");
    expect((await bed.post(bob).batchGetPosts({ postIds: [followersOnly, mutualOnly] })).posts.map((p) => p.postId)).toEqual([followersOnly]);
    expect((await bed.post(carol).batchGetPosts({ postIds: [followersOnly, mutualOnly] })).posts.map((p) => p.postId)).toEqual([followersOnly, mutualOnly]);
  });

  test("a block hides even public posts; a private author's public posts are for followers", async () => {
    const pub = (await bed.post(alice).createPost({ mediaIds: [await bed.photo(alice!, 6)], caption: "public" })).post!.postId;
    expect((await bed.post(dave).getPost({ postId: pub })).post!.postId).toBe(pub);
    await bed.graph(alice).block({ userId: dave! });
    expect(errorReason(await failure(bed.post(dave).getPost({ postId: pub })))).toBe("POST_NOT_FOUND");
    await bed.graph(alice).unblock({ userId: dave! });
    await bed.identity(alice).updateProfile({ profile: { userId: alice!, private: true }, updateMask: { paths: ["private"] } });
    // The post service remembers authors' private flags for 10 s (reader.ts): the post
    // disappears for dave once that memo expires, so poll for it rather than sleep.
    const forDave = await until(() => bed.post(dave).batchGetPosts({ postIds: [pub] }), (r) => r.posts.length === 0, 30_000, 250);
    expect(forDave.posts).toHaveLength(0);
    expect((await bed.post(bob).batchGetPosts({ postIds: [pub] })).posts).toHaveLength(1);
    await bed.identity(alice).updateProfile({ profile: { userId: alice!, private: false }, updateMask: { paths: ["private"] } });
  });
});

describe("edits and deletes", () => {
  test("UpdatePost changes the caption only, keeps history; only the author may", async () => {
    const { post } = await bed.post(bob).createPost({ mediaIds: [await bed.photo(bob!, 1)], caption: "first #one" });
    const edited = await bed.post(bob).updatePost({ post: { postId: post!.postId, caption: "second #two" }, updateMask: { paths: ["caption"] } });
    expect(edited.post).toMatchObject({ caption: "second #two", hashtags: ["two"], editCount: 1 });
    await bed.post(bob).updatePost({ post: { postId: post!.postId, caption: "third" }, updateMask: { paths: ["caption"] } });
    const revs = await bed.post(alice).listPostRevisions({ postId: post!.postId });
    expect(revs.revisions.map((r) => r.caption)).toEqual(["first #one", "second #two"]);
    expect((await bed.post(alice).getPost({ postId: post!.postId })).post!.caption).toBe("third");
    expect(errorReason(await failure(bed.post(alice).updatePost({ post: { postId: post!.postId, caption: "x" }, updateMask: { paths: ["caption"] } })))).toBe("NOT_POST_AUTHOR");
    expect(errorReason(await failure(bed.post(bob).updatePost({ post: { postId: post!.postId, caption: "x" }, updateMask: { paths: ["visibility"] } })))).toBe("FIELD_NOT_UPDATABLE");
  });

  test("DeletePost hides the post everywhere; author only; idempotent", async () => {
    const { post } = await bed.post(bob).createPost({ mediaIds: [await bed.photo(bob!, 2)], caption: "to delete" });
    expect(errorReason(await failure(bed.post(alice).deletePost({ postId: post!.postId })))).toBe("NOT_POST_AUTHOR");
    await bed.post(bob).deletePost({ postId: post!.postId });
    await bed.post(bob).deletePost({ postId: post!.postId });
    expect(errorReason(await failure(bed.post(bob).getPost({ postId: post!.postId })))).toBe("POST_NOT_FOUND");
    expect((await bed.post(bob).batchGetPosts({ postIds: [post!.postId] })).posts).toHaveLength(0);
  });
});

describe("media bucket policy", () => {
  test("max_count_per_post of post-images is enforced, and a change at run time applies to the next post", async () => {
    const media = bed.media("service");
    const original = (await media.listBucketPolicies({})).policies.find((p) => p.bucket === "post-images")!;
    const photos = [await bed.photo(alice!, 10), await bed.photo(alice!, 11), await bed.photo(alice!, 12)];
    try {
      await media.updateBucketPolicy({ policy: { ...original, maxCountPerPost: 2 } });
      const err = await failure(bed.post(alice).createPost({ mediaIds: photos, caption: "three photos" }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(errorReason(err)).toBe("MEDIA_NOT_USABLE");
      expect(violatedFields(err)).toEqual(["media_ids"]);
      expect(err.findDetails(ErrorInfoSchema)[0]!.metadata).toMatchObject({ rule: "max_count_per_post", max_count_per_post: "2" });
      expect(err.message).toContain("max_count_per_post");
      expect((await bed.post(alice).createPost({ mediaIds: photos.slice(0, 2), caption: "two photos" })).post!.media).toHaveLength(2);

      await media.updateBucketPolicy({ policy: { ...original, maxCountPerPost: 3 } });
      expect((await bed.post(alice).createPost({ mediaIds: photos, caption: "three photos" })).post!.media).toHaveLength(3);
    } finally {
      await media.updateBucketPolicy({ policy: original });
    }
  });
});
