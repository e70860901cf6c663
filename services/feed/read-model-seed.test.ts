/**
 * ReadModel.seedNewPost on real Redis (no mesh): the fan-out's write of a post just
 * created lands only if no event wrote the post before, so it never overwrites an update
 * or a tombstone, and never zeroes counters a like already dropped.
 */
import { afterAll, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { PostCreatedSchema } from "#gen/oasis/post/v1/events_pb.ts";
import { PostSchema } from "#gen/oasis/post/v1/post_pb.ts";
import { createLogger } from "#kit/logger.ts";
import { createRedis, deleteKeysWithPrefix } from "#kit/redis.ts";
import { testNamespace } from "#kit/testing/namespace.ts";
import { decodeStoredPost, encodeStoredPost, storedPostFromEvent } from "./page-path/pieces.ts";
import { ReadModel } from "./read-model.ts";
import { decodePostCreatedHead } from "../../shared-rules/post-created-head.ts";

const url = process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `${testNamespace()}:oasis:feed:`;
const redis = createRedis({ url, keyPrefix: prefix, log: createLogger("feed-test", "silent") });
const rm = new ReadModel(redis);
afterAll(async () => {
  redis.disconnect();
  await deleteKeysWithPrefix(url, prefix);
});

const post = (id: bigint, caption: string) => create(PostSchema, { postId: id, authorId: 7n, caption, referPostId: 3n });
const stored = async (id: bigint) => {
  const v = await redis.getBuffer(`rm:post:${id}`);
  return v ? (decodeStoredPost(v)?.caption ?? "tombstone") : undefined;
};

test("a new post is seeded with zero counters and the whole marker; its bytes lead with author and refer ids", async () => {
  await rm.seedNewPost(post(1n, "first"));
  expect(await stored(1n)).toBe("first");
  expect((await redis.getBuffer("rm:post:1"))!.subarray(0, 5).toString("latin1")).toBe("\x027,3;");
  expect(await redis.exists("rm:counts:1", "rm:whole:1")).toBe(2);
});

test("the seed never overwrites what an event wrote: an update, a tombstone, dropped counters", async () => {
  await rm.putPost(post(2n, "edited"), false);
  await rm.seedNewPost(post(2n, "original"));
  expect(await stored(2n)).toBe("edited");
  await rm.deletePost(3n);
  await rm.seedNewPost(post(3n, "original"));
  expect(await stored(3n)).toBe("tombstone");
  await rm.touched(4n); // a like dropped the counters before the fan-out ran
  await rm.seedNewPost(post(4n, "liked early"));
  expect(await stored(4n)).toBe("liked early");
  expect(await redis.exists("rm:counts:4")).toBe(0);
});

test("a post's stored bytes taken from post_created's own bytes are the post, byte for byte as encoded", () => {
  const p = create(PostSchema, { postId: 5n, authorId: 7n, caption: "from the event", referPostId: 3n, hashtags: ["春"] });
  const event = toBinary(PostCreatedSchema, create(PostCreatedSchema, { post: p }));
  const fromEvent = storedPostFromEvent(p, event);
  expect(fromEvent.equals(encodeStoredPost(p))).toBe(true);
  expect(decodeStoredPost(fromEvent)).toEqual(p);
  // Without the event's bytes, or with bytes lacking the field, the post is encoded.
  expect(storedPostFromEvent(p, undefined).equals(encodeStoredPost(p))).toBe(true);
  expect(storedPostFromEvent(p, new Uint8Array([0x10, 0x01])).equals(encodeStoredPost(p))).toBe(true);
});

test("post_created applied twice by seeds (fan-out, then the read model's consumer) writes once and keeps a like's fence", async () => {
  const p = post(6n, "seeded by the fan-out");
  const event = toBinary(PostCreatedSchema, create(PostCreatedSchema, { post: p }));
  await rm.seedNewPost(p, storedPostFromEvent(p, event));
  await rm.touched(6n); // a like fenced the counters between the two consumers
  await rm.seedNewPost(create(PostSchema, { ...p, caption: "not written" }), storedPostFromEvent(p, event));
  expect(await stored(6n)).toBe("seeded by the fan-out");
  expect(await redis.exists("rm:counts:6")).toBe(0);
  // putPost (OASIS_FEED_ONE_TRIP_CREATE=0) would have zeroed them again.
  await rm.putPost(p, true);
  expect(await redis.exists("rm:counts:6")).toBe(1);
});

test("post_created's head: the post's three ids read from the event's bytes, nothing else decoded", () => {
  const full = create(PostSchema, { postId: 9_007_199_254_740_993n, authorId: 7n, caption: "not read", referPostId: 3n, hashtags: ["x"], media: [{ id: 11n, bucket: "post-images" }] });
  const head = decodePostCreatedHead(toBinary(PostCreatedSchema, create(PostCreatedSchema, { post: full })));
  expect(head.post).toEqual(create(PostSchema, { postId: full.postId, authorId: 7n, referPostId: 3n }));
  expect(decodePostCreatedHead(toBinary(PostCreatedSchema, create(PostCreatedSchema))).post).toBeUndefined();
  expect(() => decodePostCreatedHead(new Uint8Array([0x0a, 0x05, 0x08]))).toThrow();
});

test("likesChanged: a batch's likes in one pipeline, in order: a like then an unlike of one pair ends unliked; counters and states fenced", async () => {
  await redis.set("rm:counts:9", "x");
  await redis.set("rm:state:5:9", "x");
  await rm.likesChanged([
    { postId: 9n, user: 5n, liked: true },
    { postId: 9n, user: 6n, liked: true },
    { postId: 9n, user: 5n, liked: false },
    { postId: 8n, user: 5n, liked: true },
  ]);
  expect((await redis.smembers("rm:likers:9")).sort()).toEqual(["6"]);
  expect(await redis.smembers("rm:likers:8")).toEqual(["5"]);
  expect(await redis.ttl("rm:likers:9")).toBeGreaterThan(86_400);
  expect(await redis.exists("rm:counts:9", "rm:state:5:9")).toBe(0);
});
