/**
 * Fan-out under SIGKILL: 100 posts fan out to 30 active followers in batches of 8 (so one
 * post takes four batches) while the feed process is killed with `kill -9` 10 times. The
 * posts come in 10 waves, one before each kill, and each kill is checked to have left
 * fan-out unfinished (Redis, with the process dead). JetStream redelivers what was not
 * acknowledged and every push is a ZADD of the same member, so afterwards every
 * follower holds every post, the delivery counter (which counts only pairs that were
 * new) says each (post, follower) pair was delivered exactly once, and the feed read
 * returns each post once.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readEdges, readFortunes } from "../../demo/data.ts";
import { inParallel, startSocialTestbed, type SocialTestbed } from "../../testbeds/social.ts";
import { feedRedis, type FeedRedis } from "../../testbeds/feed.ts";

let bed: SocialTestbed;
let keys: FeedRedis;
const members = [...new Set(readEdges().flat())].slice(400, 440);
let authors: bigint[];
let followers: bigint[];
const captions = readFortunes("en-food.fortune");
const waves = 10;
const perWave = 10;
/**
 * The feed's ack wait for its last start, after the kills: 3 s instead of the default 30 s
 * (OASIS_CONSUMER_ACK_WAIT_MS), so what the kills left unacknowledged comes back 3 s
 * after its last delivery. The waves run at the default: redeliveries in the middle of
 * the waves would finish earlier waves' posts and blur what each kill left unfinished.
 */
const ackWaitMs = 3_000;

let setupSeconds = 0;
beforeAll(async () => {
  const t0 = performance.now();
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "feed"], { env: { OASIS_FEED_FANOUT_BATCH: "8" } });
  keys = feedRedis(bed.mesh);
  const ids = await bed.users(members);
  authors = ids.slice(0, 10);
  followers = ids.slice(10);
  // Every follower follows every author, and has read their feed (is active).
  await inParallel(followers, 8, async (f) => {
    for (const a of authors) await bed.graph(f).follow({ userId: a });
    await bed.feed(f).getHomeFeed({ pageSize: 1 });
  });
  setupSeconds = (performance.now() - t0) / 1000;
});
afterAll(async () => {
  keys?.close();
  await bed?.stop();
});

test("kill -9 10 times while 100 posts fan out: every follower has every post exactly once", async () => {
  expect(followers.length).toBe(30);
  const t0 = performance.now();
  // Photos first (the slow part: two real photos per author, reused), then the posts, a
  // wave before each kill.
  const media: bigint[][] = [];
  await inParallel(authors, 4, async (a, i) => {
    media[i] = [await bed.photo(a, 2 * i), await bed.photo(a, 2 * i + 1)];
  });
  const tWaves = performance.now();
  const deliveredBefore = await keys.homeDeliveries();
  const posted: bigint[] = [];
  let unfinished = 0; // kills after which some post had not reached every follower
  let midPost = 0; // kills after which some post had reached some followers but not all
  for (let w = 0; w < waves; w++) {
    if (w > 0) await bed.mesh.supervisor.restart("feed");
    await inParallel(Array.from({ length: perWave }, (_, k) => w * perWave + k), 4, async (i) => {
      const a = i % authors.length;
      const res = await bed.post(authors[a]).createPost({ mediaIds: [media[a]![i % 2]!], caption: captions[i % captions.length]!.slice(0, 300), requestId: `burst-${i}` });
      posted.push(res.post!.postId);
    });
    // Kill as soon as a post is part-way through its batches (or after at most 2 s).
    const wave = posted.slice(-perWave);
    for (const end = Date.now() + 2000; Date.now() < end; ) {
      const n = await keys.holders(followers, wave);
      if (n.some((c) => c > 0 && c < followers.length)) break;
    }
    bed.mesh.supervisor.kill9("feed");
    await bed.mesh.supervisor.stop("feed");
    // The process is gone: what Redis holds now is what the kill interrupted.
    const held = await keys.holders(followers, posted);
    if (held.some((c) => c < followers.length)) unfinished++;
    if (held.some((c) => c > 0 && c < followers.length)) midPost++;
  }
  // The last start updates the durables to the short ack wait (kit/consumer.ts).
  await bed.mesh.supervisor.restart("feed", { OASIS_CONSUMER_ACK_WAIT_MS: String(ackWaitMs) });
  expect(posted.length).toBe(waves * perWave);
  expect(unfinished).toBe(waves);
  // Most kills must cut a post's fan-out between its batches: the case redelivery repairs.
  expect(midPost).toBeGreaterThanOrEqual(waves / 2);
  const want = [...posted].sort((a, b) => (a > b ? -1 : 1));
  const tRedelivery = performance.now();

  // First the stored timelines themselves (a feed read could rebuild a timeline and so
  // hide a missed push): each must hold exactly the 100 posts. Redeliveries come after
  // JetStream's ack wait (ackWaitMs).
  for (let round = 0; round < 600; round++) {
    if ((await keys.holders(followers, posted)).every((c) => c === followers.length)) break;
    await Bun.sleep(200);
  }
  const redeliverySeconds = (performance.now() - tRedelivery) / 1000;
  for (const f of followers) expect(await keys.home(f)).toEqual(want);
  // Exactly once: the counter grows only by pairs a push made new, so a redelivered batch
  // that pushed a post again to a follower who had it adds nothing.
  expect((await keys.homeDeliveries()) - deliveredBefore).toBe(posted.length * followers.length);

  for (const f of followers) {
    const got: bigint[] = [];
    let pageToken = "";
    do {
      const page = await bed.feed(f).getHomeFeed({ pageSize: 100, pageToken });
      got.push(...page.items.map((v) => v.post!.postId));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(got).toEqual(want); // every post, newest first, none twice
  }
  console.log(`fan-out crash: ${waves} kills (${unfinished} with fan-out unfinished, ${midPost} mid-post), ${posted.length} posts, ${followers.length} followers each with all ${want.length} exactly once`);
  console.log(`fan-out crash: set-up ${setupSeconds.toFixed(1)} s, photos ${((tWaves - t0) / 1000).toFixed(1)} s, waves and kills ${((tRedelivery - tWaves) / 1000).toFixed(1)} s, redelivery wait ${redeliverySeconds.toFixed(1)} s`);
}, 600_000);
