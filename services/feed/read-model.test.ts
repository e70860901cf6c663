/**
 * The feed's read model with interaction in the mesh: a post the read model saw created
 * shows the viewer's like and refer-to from the events alone (no call to interaction on
 * the read), counters follow likes, and with the read model's keys dropped the same page
 * is loaded from the services again, with the same viewer state.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { PostView } from "#gen/oasis/feed/v1/feed_pb.ts";
import { until } from "#kit/testing/until.ts";
import { counterSeries } from "../../bench/lib/histogram.ts";
import { readEdges, readFortunes } from "../../demo/data.ts";
import { startSocialTestbed, type SocialTestbed } from "../../testbeds/social.ts";
import { feedRedis, type FeedRedis } from "../../testbeds/feed.ts";

let bed: SocialTestbed;
let keys: FeedRedis;
let ids: bigint[];
const members = [...new Set(readEdges().flat())].slice(400, 403);
const captions = readFortunes("en-pets.fortune");

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "feed", "interaction"]);
  keys = feedRedis(bed.mesh);
  ids = await bed.users(members);
});
afterAll(async () => {
  keys?.close();
  await bed?.stop();
});

/** The reader's view of `postId` in their home feed (undefined while it is not there). */
async function viewOf(reader: bigint, postId: bigint): Promise<PostView | undefined> {
  return (await bed.feed(reader).getHomeFeed({ pageSize: 20 })).items.find((v) => v.post!.postId === postId);
}

/** BatchGetViewerState calls interaction served while `read` ran (health checks aside). */
async function stateCalls(read: () => Promise<unknown>): Promise<number> {
  const count = async () =>
    [...(await counterSeries(bed.mesh.metricsUrl("interaction"), "grpc_server_handled_total"))]
      .filter(([labels]) => labels.includes('grpc_method="BatchGetViewerState"'))
      .reduce((n, [, v]) => n + v, 0);
  const before = await count();
  await read();
  return (await count()) - before;
}

test("likes and refer-tos reach the viewer's state and the counters through events; dropped keys are reloaded", async () => {
  const [author, reader, other] = ids as [bigint, bigint, bigint];
  await bed.graph(reader).follow({ userId: author });
  await bed.graph(reader).follow({ userId: other });
  await bed.feed(reader).getHomeFeed({}); // active: fan-out reaches the reader
  const media = await bed.photo(author, 1);
  const p = (await bed.post(author).createPost({ mediaIds: [media], caption: captions[1]!.slice(0, 500) })).post!.postId;
  const fresh = (await until(() => viewOf(reader, p), (v) => v !== undefined))!;
  expect([fresh.viewer?.liked ?? false, fresh.viewer?.referred ?? false, fresh.counts?.likes ?? 0n]).toEqual([false, false, 0n]);

  await bed.interaction(reader).likePost({ postId: p });
  await bed.interaction(other).likePost({ postId: p });
  const liked = await until(() => viewOf(reader, p), (v) => v?.viewer?.liked === true && v.counts?.likes === 2n);
  expect(liked!.viewer!.referred).toBe(false);
  const refer = (await bed.post(reader).createPost({ referPostId: p, caption: "look at this" })).post!.postId;
  // Interaction counts the refer-to in its own consumer: the feed drops the counter again a few seconds later.
  await until(() => viewOf(reader, p), (v) => v?.viewer?.referred === true && v.counts?.refers === 1n, 60_000);
  await bed.interaction(reader).unlikePost({ postId: p });
  await until(() => viewOf(reader, p), (v) => v?.viewer?.liked === false && v.counts?.likes === 1n);

  // The read model saw p created: the reader's state comes from its sets, not interaction.
  await keys.quiet(60_000);
  let view: PostView | undefined;
  expect(await stateCalls(async () => (view = await viewOf(reader, p)))).toBe(0);
  expect([view!.viewer!.liked, view!.viewer!.referred, view!.counts!.likes, view!.counts!.refers]).toEqual([false, true, 1n, 1n]);
  // The other liker's view of the same post says liked.
  await bed.graph(other).follow({ userId: author });
  const othersView = await until(() => viewOf(other, p), (v) => v !== undefined);
  expect(othersView!.viewer!.liked).toBe(true);

  // Without the read model's keys the state is asked from interaction, and is the same.
  expect(await keys.dropReadModel()).toBeGreaterThan(0);
  let reloaded: PostView | undefined;
  expect(await stateCalls(async () => (reloaded = await viewOf(reader, p)))).toBe(1);
  expect(reloaded).toEqual(view);
  // Deleting the refer-to takes the referred flag away again.
  await bed.post(reader).deletePost({ postId: refer });
  await until(() => viewOf(reader, p), (v) => v?.viewer?.referred === false && v.counts?.refers === 0n, 60_000);
});

test("post's events through the fan-out's one consumer (OASIS_FEED_POST_MERGED): a post's edits reach the read model in order", async () => {
  const [author, reader] = ids as [bigint, bigint];
  await bed.graph(reader).follow({ userId: author });
  await bed.feed(reader).getHomeFeed({});
  const p = (await bed.post(author).createPost({ mediaIds: [await bed.photo(author, 2)], caption: "edit 0" })).post!.postId;
  // Published back to back: post_created and five post_updated of one post, whose order only the consumer's order key keeps.
  for (let i = 1; i <= 5; i++) await bed.post(author).updatePost({ post: { postId: p, caption: `edit ${i}` }, updateMask: { paths: ["caption"] } });
  const view = await until(() => viewOf(reader, p), (v) => v?.post?.caption === "edit 5");
  expect(view?.post?.caption).toBe("edit 5");
  // Settled: no older edit lands after the last one.
  await keys.quiet(60_000);
  expect((await viewOf(reader, p))?.post?.caption).toBe("edit 5");
});
