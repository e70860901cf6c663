/**
 * Indexing under SIGKILL: while 5 waves of posts are created, edited and deleted (real
 * Tang poems and fortunes), the search process is killed with `kill -9` in the middle
 * of each wave (some of the wave's posts indexed, some not) and started again. Events
 * not acknowledged are redelivered and every write is versioned, so afterwards the
 * index equals the source: exactly the live posts, each at its last caption, and every
 * account. The search process's consumers wait 5 s, not JetStream's default 30 s, before a
 * message not acknowledged (by a killed process) comes back (OASIS_CONSUMER_ACK_WAIT_MS).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import { testClient } from "#kit/testing/clients.ts";
import { until } from "#kit/testing/until.ts";
import { readFortunes } from "../../demo/data.ts";
import { inParallel, startSocialTestbed, type SocialTestbed } from "../../testbeds/social.ts";
import { EmbeddedEngine } from "./store.ts";

let bed: SocialTestbed;
let dir: string;
let users: bigint[];
const poems = readFortunes("zh-tang300.fortune");
const fortunes = readFortunes("en-wisdom.fortune");
const waves = 5;
const perWave = 24;

/** What the index holds, read from its files (the process may be dead). */
async function indexed(): Promise<{ posts: bigint[]; users: bigint[] }> {
  const engine = new EmbeddedEngine(dir, 60_000);
  await engine.open();
  try {
    return await engine.allIds();
  } finally {
    await engine.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "oasis-search-crash-"));
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "search"], { env: { OASIS_SEARCH_DATA_DIR: dir, OASIS_MEILI_URL: "", OASIS_CONSUMER_ACK_WAIT_MS: "5000" } });
  users = await bed.users([910, 911, 912, 913]);
}, 120_000);

afterAll(async () => {
  await bed?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("kill -9 five times while indexing: afterwards the index equals the source", async () => {
  const t0 = performance.now();
  const photos = await Promise.all(users.map((u, i) => bed.photo(u, i)));
  const live = new Map<bigint, { author: bigint; caption: string }>();
  const sorted = (ids: Iterable<bigint>) => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let interrupted = 0;
  for (let w = 0; w < waves; w++) {
    const before = (await indexed()).posts.length;
    const writes = inParallel(Array.from({ length: perWave }, (_, k) => w * perWave + k), 4, async (i) => {
      const a = i % users.length;
      const caption = `${i % 2 ? poems[i % poems.length] : fortunes[i % fortunes.length]}`.slice(0, 600);
      const id = (await bed.post(users[a]).createPost({ mediaIds: [photos[a]!], caption, requestId: `crash-${i}` })).post!.postId;
      live.set(id, { author: users[a]!, caption });
      if (i % 6 === 1) {
        await bed.post(users[a]).deletePost({ postId: id });
        live.delete(id);
      } else if (i % 6 === 2) {
        const edited = `${caption.slice(0, 200)} edited${i}zz`;
        await bed.post(users[a]).updatePost({ post: { postId: id, caption: edited }, updateMask: { paths: ["caption"] } });
        live.set(id, { author: users[a]!, caption: edited });
      }
    });
    // Kill once part of this wave is indexed.
    await until(() => indexed(), (x) => x.posts.length >= before + 4, 30_000, 20);
    bed.mesh.supervisor.kill9("search");
    await bed.mesh.supervisor.stop("search");
    await writes;
    if ((await indexed()).posts.length < before + perWave - perWave / 6) interrupted++;
    await bed.mesh.supervisor.restart("search");
  }
  expect(interrupted).toBeGreaterThanOrEqual(3);
  const want = sorted(live.keys());
  const tConverge = performance.now();
  // The index converges on the source: wait until it holds exactly the live posts (a count
  // alone can match early, a delete not yet applied standing in for a create not yet
  // indexed), then it must equal them; a post lost or kept by the kills never converges.
  const after = await until(() => indexed(), (x) => x.posts.length === want.length && x.posts.every((p, i) => p === want[i]), 30_000);
  expect(after.posts).toEqual(want);
  console.log(`search crash: ${waves} kills (${interrupted} interrupted), waves and kills ${((tConverge - t0) / 1000).toFixed(1)} s, convergence wait ${((performance.now() - tConverge) / 1000).toFixed(1)} s`);
  expect(sorted(after.users)).toEqual(sorted(users));
  // Each edited post ranks first for the word only its last caption has (other edited
  // posts follow as typo matches: "edited14zz" is within two typos of "edited20zz").
  const search = testClient(SearchService, bed.mesh.url("search"));
  const edited = [...live].filter(([, p]) => / edited\d+zz$/.test(p.caption));
  expect(edited.length).toBeGreaterThan(10);
  for (const [id, p] of edited) {
    const word = p.caption.split(" ").at(-1)!;
    expect((await search.searchPosts({ query: `${word} ` })).posts[0]?.post?.postId).toBe(id);
  }
}, 240_000);
