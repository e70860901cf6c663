/**
 * Fan-out under SIGKILL: 200 posts fan out to active followers while the feed process is
 * killed with `kill -9` 20 times. JetStream redelivers what was not acknowledged and
 * every push is a ZADD of the same member, so afterwards no follower misses a post and
 * none sees one twice.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { readEdges, readFortunes } from "../../demo/data.ts";
import { inParallel, startSocialTestbed, type SocialTestbed } from "../../tests/social-testbed.ts";

let bed: SocialTestbed;
const members = [...new Set(readEdges().flat())].slice(400, 440);
let authors: bigint[];
let followers: bigint[];
const captions = readFortunes("en-food.fortune");

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "feed"]);
  const ids = await bed.users(members);
  authors = ids.slice(0, 10);
  followers = ids.slice(10);
  // Every follower follows every author, and has read their feed (is active).
  await inParallel(followers, 8, async (f) => {
    for (const a of authors) await bed.graph(f).follow({ userId: a });
    await bed.feed(f).getHomeFeed({ pageSize: 1 });
  });
});
afterAll(() => bed?.stop());

test("kill -9 20 times while 200 posts fan out: every follower has every post exactly once", async () => {
  // Photos first (the slow part), then the 200 posts in a burst.
  const media = await Promise.all(authors.map((a, i) => Promise.all(Array.from({ length: 20 }, (_, j) => bed.photo(a, i * 20 + j)))));
  const posted: bigint[] = [];
  let kills = 0;
  let posting = true;
  const killer = (async () => {
    while (kills < 20) {
      await Bun.sleep(150 + Math.random() * 200);
      bed.mesh.supervisor.kill9("feed");
      kills++;
      await bed.mesh.supervisor.stop("feed");
      await bed.mesh.supervisor.restart("feed");
    }
  })();
  await inParallel(
    Array.from({ length: 200 }, (_, i) => i),
    4,
    async (i) => {
      const a = i % authors.length;
      const res = await bed.post(authors[a]).createPost({ mediaIds: [media[a]![Math.floor(i / authors.length)]!], caption: captions[i % captions.length]!.slice(0, 300), requestId: `burst-${i}` });
      posted.push(res.post!.postId);
      await Bun.sleep(20);
    },
  );
  posting = false;
  await killer;
  expect(kills).toBe(20);
  expect(posted.length).toBe(200);
  const want = [...posted].sort((a, b) => (a > b ? -1 : 1));

  // First the stored timelines themselves (a feed read could rebuild a timeline and so
  // hide a missed push): each must hold exactly the 200 posts.
  const redis = new Redis(process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379");
  try {
    const key = (f: bigint) => `${bed.mesh.namespace}:oasis:feed:ht:${f}`;
    for (let round = 0; round < 300; round++) {
      const sizes = await Promise.all(followers.map((f) => redis.zcard(key(f))));
      if (sizes.every((n) => n === 200)) break;
      await Bun.sleep(200);
    }
    for (const f of followers) {
      const stored = (await redis.zrange(key(f), 0, "-1")).map(BigInt).sort((a, b) => (a > b ? -1 : 1));
      expect(stored).toEqual(want);
    }
  } finally {
    redis.disconnect();
  }

  let complete = 0;
  for (let round = 0; round < 300 && complete < followers.length; round++) {
    complete = 0;
    for (const f of followers) {
      const got: bigint[] = [];
      let pageToken = "";
      do {
        const page = await bed.feed(f).getHomeFeed({ pageSize: 100, pageToken });
        got.push(...page.items.map((v) => v.post!.postId));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(new Set(got).size).toBe(got.length); // never twice
      if (got.length === want.length) {
        expect(got).toEqual(want);
        complete++;
      }
    }
    if (complete < followers.length) await Bun.sleep(200);
  }
  expect(posting).toBe(false);
  expect(complete).toBe(followers.length);
  console.log(`fan-out crash: ${kills} kills, ${posted.length} posts, ${followers.length} followers each with all ${want.length} exactly once`);
}, 600_000);
