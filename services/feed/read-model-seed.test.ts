/**
 * ReadModel.seedNewPost on real Redis (no mesh): the fan-out's write of a post just
 * created lands only if no event wrote the post before, so it never overwrites an update
 * or a tombstone, and never zeroes counters a like already dropped.
 */
import { afterAll, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { PostSchema } from "#gen/oasis/post/v1/post_pb.ts";
import { createLogger } from "#kit/logger.ts";
import { createRedis, deleteKeysWithPrefix } from "#kit/redis.ts";
import { testNamespace } from "#kit/testing/namespace.ts";
import { decodeStoredPost } from "./page-path/pieces.ts";
import { ReadModel } from "./read-model.ts";

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
