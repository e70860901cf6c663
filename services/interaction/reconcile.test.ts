/**
 * The periodic reconcile job on a real interaction process with a short interval and a
 * small sweep batch: counters that drifted in both MySQL (post_counts) and Redis, on
 * posts nobody touches any more (so not in the recently-changed set), are all recounted
 * from the likes and comments rows and fixed by the sweep, which walks every post and
 * starts over.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { write } from "#kit/mysql.ts";
import { until } from "#kit/testing/until.ts";
import { readEdges, readFortunes } from "../../demo/data.ts";
import { startSocialTestbed, type SocialTestbed } from "../../testbeds/social.ts";
import { openInteractionStores, type InteractionStores } from "../../testbeds/interaction.ts";

let bed: SocialTestbed;
let stores: InteractionStores;
let users: bigint[];
const members = [...new Set(readEdges().flat())].slice(600, 606);
const quotes = readFortunes("en-love.fortune");
// 5 posts, 2 per run: a full sweep takes 3 runs, so fixing all 5 needs the wrap-around.
const sweepBatch = 2;

/** Polls a condition for up to 30 s; true once it holds. */
const holds = (cond: () => Promise<boolean>) => until(cond, (v) => v, 30_000);

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "interaction"], {
    env: { OASIS_INTERACTION_RECONCILE_MS: "300", OASIS_INTERACTION_RECONCILE_SWEEP_BATCH: String(sweepBatch) },
  });
  users = await bed.users(members);
  stores = openInteractionStores(bed.mesh.namespace);
});
afterAll(async () => {
  await stores?.close();
  await bed?.stop();
});

test("drift in post_counts and Redis on posts that did not change is fixed by the periodic sweep", async () => {
  const [author, ...fans] = users as [bigint, ...bigint[]];
  const posts: bigint[] = [];
  for (let i = 0; i < 5; i++) {
    const post = (await bed.post(author).createPost({ mediaIds: [await bed.photo(author, i)], caption: quotes[i]!.slice(0, 300) })).post!.postId;
    for (const fan of fans.slice(0, i + 1)) await bed.interaction(fan).likePost({ postId: post });
    await bed.interaction(fans[0]!).createComment({ postId: post, text: `comment ${i}` });
    posts.push(post);
  }
  const truth = await Promise.all(posts.map((p) => stores.recount(p)));
  expect(truth.map((t) => t.likes)).toEqual([1n, 2n, 3n, 4n, 5n]);
  // The job has taken the recently changed posts: what follows is drift no change marks.
  expect(await holds(async () => (await stores.redis.scard(stores.key("dirty"))) === 0)).toBe(true);

  await bed.interaction().batchGetCounts({ postIds: posts }); // every post has a Redis copy
  // The drift goes in while interaction is stopped: a sweep (every 300 ms) landing between
  // the writes below and the checks of them would fix a post before the test saw it drift.
  await bed.mesh.supervisor.stop("interaction");
  for (const p of posts) {
    await write(stores.db, "UPDATE post_counts SET likes = likes + 100, comments = 0 WHERE post_id = ?", [p]);
    const key = stores.key(`pc:${p}`);
    const [version, , , refers] = (await stores.redis.get(key))!.split(":");
    await stores.redis.set(key, `${version}:777:9:${refers}`);
  }
  expect(await stores.redis.smismember(stores.key("dirty"), ...posts.map(String))).toEqual(posts.map(() => 0));
  const served = async () => (await bed.interaction().batchGetCounts({ postIds: posts })).counts.map((c) => ({ likes: c.likes, comments: c.comments, refers: c.refers }));
  expect((await stores.stored(posts[0]!)).likes).toBe(101n);
  expect((await stores.redis.get(stores.key(`pc:${posts[0]}`)))!.split(":")[1]).toBe("777");
  await bed.mesh.supervisor.restart("interaction");

  // Within a few sweeps both stores equal the recount again.
  const fixed = await holds(async () => {
    const [s, stored] = await Promise.all([served(), Promise.all(posts.map((p) => stores.stored(p)))]);
    return Bun.deepEquals(s, truth) && Bun.deepEquals(stored, truth);
  });
  expect(await served()).toEqual(truth);
  expect(await Promise.all(posts.map((p) => stores.stored(p)))).toEqual(truth);
  expect(fixed).toBe(true);
  expect(await Promise.all(posts.map((p) => stores.recount(p)))).toEqual(truth);
});
