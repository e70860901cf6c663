/**
 * Search on 100,000 posts made from the real texts in demo/data/text (Tang poems, Song
 * lyrics, English fortunes), in one run on this machine (2 cores shared by the mesh,
 * MariaDB and the load generator):
 * 1. Setup: 100 real accounts through identity; 100,000 post rows written straight into
 *    post's MariaDB table in batches (through CreatePost it would take many minutes;
 *    the read path, which is what is measured, is the real one).
 * 2. Indexing: the same 100,000 posts into the embedded engine (the search service's own
 *    directory), directly through the engine, one transaction per post as the event
 *    consumer applies them: docs/s. (Through events it is this plus JetStream.)
 * 3. Queries at 50 concurrent searches through the edge (GET /v1/search/posts, anonymous,
 *    hydrated PostViews of page size 20): p50/p95/p99 and req/s, for words taken from
 *    the texts (2-character Chinese words, English words, English prefixes), and for
 *    the English words with one typo. Goal p95 < 50 ms. Twice each with search's
 *    results read model off (OASIS_SEARCH_READ_MODEL=0: hydrated from post and
 *    identity per search) and on, interleaved, search restarted between: the ratio.
 * 4. Baseline: the same words as `caption LIKE '%word%' ORDER BY post_id DESC LIMIT 20`
 *    on MariaDB over the same 100,000 captions (a table of the bench's own), 50
 *    concurrent through a pool of 20 connections. No typo tolerance, no ranking, no
 *    visibility or hydration: the lower bound of doing it without a search engine.
 * Prints the ratios. Run: bun bench/search.ts [posts, default 100000]
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { PostSchema, Visibility } from "#gen/oasis/post/v1/post_pb.ts";
import { databaseName } from "#kit/config.ts";
import { createIdGenerator } from "#kit/ids.ts";
import { connectPool, ensureDatabase } from "#kit/mysql.ts";
import { parseHashtags } from "#kit/text.ts";
import { testClient } from "#kit/testing/clients.ts";
import { startTestMesh, testAdminHandle } from "#kit/testing/mesh.ts";
import { inParallel } from "#kit/parallel.ts";
import { fortuneFiles, readFortunes } from "../demo/data.ts";
import { raiseEdgeLimits } from "../edge/limits-admin.ts";
import { ensureInfra } from "../scripts/infra.ts";
import { analyze } from "../services/search/domain/analyze.ts";
import { EmbeddedEngine } from "../services/search/store.ts";
import { cpuSeconds, perRequest, snapshot } from "./lib/cpu.ts";
import { closedLoop as closedLoopOf, type LoopResult } from "./lib/load-clients.ts";
import { machineLine } from "./lib/machine.ts";

const total = Number(process.argv[2] ?? 100_000);
const concurrency = 50;
const mysqlUrl = process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";


/** `n` searches from `concurrency` workers (bench/lib's closed loop); `work` returns the hit count. */
async function closedLoop(n: number, work: (i: number) => Promise<number>): Promise<LoopResult & { empty: number }> {
  let empty = 0;
  const r = await closedLoopOf(n, concurrency, async (i) => {
    if ((await work(i)) === 0) empty++;
  });
  return { ...r, empty };
}

const fmt = (l: LoopResult & { empty: number }) =>
  `${l.count} queries in ${l.seconds.toFixed(1)} s: ${l.rate.toFixed(0)}/s, p50 ${l.p50Ms.toFixed(1)} ms, p95 ${l.p95Ms.toFixed(1)} ms, p99 ${l.p99Ms.toFixed(1)} ms, ${l.errors} errors, ${l.empty} with no result`;

await ensureInfra();
console.log(machineLine());
console.log("2 cores: the mesh (identity, graph, media, post, search, edge), MariaDB, NATS, Redis and this load generator share them");
const load = () => `load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}`;
console.log(`at start: ${load()} (other work on the machine inflates every latency below alike)`);

// Captions from the real texts, cycled to `total`, each with the hashtags of its source.
const sources: Array<{ text: string; tag: string }> = [];
for (const f of fortuneFiles()) {
  const tag = f.startsWith("zh-tang") ? "唐诗" : f.startsWith("zh-song") ? "宋词" : f.replace(/^en-|\.fortune$/g, "");
  for (const t of readFortunes(f)) sources.push({ text: t.slice(0, 400), tag });
}
const captions = Array.from({ length: total }, (_, i) => {
  const s = sources[(i * 7919) % sources.length]!;
  return `${s.text} #${s.tag}`;
});

// Query words from the same texts.
const zhWords: string[] = [];
const enWords: string[] = [];
const seg = new Intl.Segmenter("zh", { granularity: "word" });
for (const s of sources) {
  for (const w of seg.segment(s.text)) {
    if (!w.isWordLike) continue;
    if (/^\p{Script=Han}{2}$/u.test(w.segment)) zhWords.push(w.segment);
    else if (/^[a-z]{6,12}$/.test(w.segment)) enWords.push(w.segment);
  }
}
const pick = (list: string[], n: number) => Array.from({ length: n }, (_, i) => list[(i * 104_729) % list.length]!);
const words = [...pick(zhWords, 100), ...pick(enWords, 70), ...pick(enWords, 30).map((w) => w.slice(0, 4))];
const typos = pick(enWords, 100).map((w) => w.slice(0, 3) + (w[3] === "x" ? "y" : "x") + w.slice(4));

const dataDir = mkdtempSync(join(tmpdir(), "oasis-bench-search-"));
const mesh = await startTestMesh({
  services: ["identity", "graph", "media", "post", "search"],
  edge: true,
  env: { OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "1024", OASIS_SEARCH_DATA_DIR: dataDir, OASIS_MEDIA_DATA_DIR: join(dataDir, "media"), OASIS_MEILI_URL: "" },
});
const benchDb = `${databaseName("bench", mesh.namespace)}`;
try {
  await raiseEdgeLimits(mesh.url("edge"), testAdminHandle);
  const identity = testClient(IdentityService, mesh.url("identity"));
  const authors: bigint[] = [];
  await inParallel(
    Array.from({ length: 100 }, (_, i) => i),
    8,
    async (i) => {
      const r = await identity.createAccount({ handle: `bench_${i}`, email: `bench_${i}@bench.example`, password: "correct horse battery" });
      authors.push(r.account!.userId);
    },
  );

  // 1. Rows in post's table, and the same captions in the baseline table.
  const ids = createIdGenerator(1023);
  const t0 = Date.now() - total * 10;
  const posts = captions.map((caption, i) =>
    create(PostSchema, {
      postId: ids.next(),
      authorId: authors[i % authors.length]!,
      caption,
      hashtags: parseHashtags(caption),
      visibility: Visibility.PUBLIC,
      createdAt: timestampFromMs(t0 + i * 10),
      updatedAt: timestampFromMs(t0 + i * 10),
    }),
  );
  const postDb = connectPool(mysqlUrl, databaseName("post", mesh.namespace), 4);
  await ensureDatabase(mysqlUrl, benchDb);
  const likeDb = connectPool(mysqlUrl, benchDb, 20);
  await likeDb.query("CREATE TABLE captions (post_id BIGINT NOT NULL PRIMARY KEY, caption TEXT NOT NULL) DEFAULT CHARSET = utf8mb4");
  const tw = performance.now();
  for (let i = 0; i < posts.length; i += 1000) {
    const batch = posts.slice(i, i + 1000);
    await postDb.query("INSERT INTO posts (post_id, author_id, refer_post_id, body, created_at) VALUES ?", [
      batch.map((p) => [p.postId, p.authorId, 0, Buffer.from(toBinary(PostSchema, p)), new Date(Number(p.createdAt!.seconds) * 1000)]),
    ]);
    await likeDb.query("INSERT INTO captions (post_id, caption) VALUES ?", [batch.map((p) => [p.postId, p.caption])]);
  }
  console.log(`setup: ${posts.length} posts written to MariaDB in ${((performance.now() - tw) / 1000).toFixed(1)} s`);

  // 2. Indexing through the engine, one transaction per post.
  const engine = new EmbeddedEngine(dataDir, 3_600_000);
  await engine.open();
  const ti = performance.now();
  for (const p of posts) {
    await engine.upsertPost({ postId: p.postId, authorId: p.authorId, caption: p.caption, hashtags: p.hashtags, createdMs: Number(p.createdAt!.seconds) * 1000, visibility: p.visibility, version: 0 });
  }
  const indexSeconds = (performance.now() - ti) / 1000;
  const docsPerSecond = posts.length / indexSeconds;
  console.log(`indexing: ${posts.length} posts in ${indexSeconds.toFixed(1)} s = ${docsPerSecond.toFixed(0)} docs/s (embedded engine, one transaction each)`);
  const chars = posts.reduce((n, p) => n + analyze(p.caption).words.length, 0);
  console.log(`  (${chars} English words and ${zhWords.length} 2-character Chinese words in the texts)`);

  // The engine alone: in this process, one query at a time (what hydration and the mesh add is the rest).
  const { parseQuery } = await import("../services/search/domain/analyze.ts");
  const alone: number[] = [];
  for (const w of [...words, ...typos]) {
    const t = performance.now();
    await engine.searchPosts({ query: parseQuery(w)!, limit: 31 });
    alone.push(performance.now() - t);
  }
  alone.sort((a, b) => a - b);
  const at = (p: number) => alone[Math.floor((p / 100) * alone.length)]!.toFixed(1);
  console.log(`engine alone, one at a time, ${alone.length} queries (words and typos): p50 ${at(50)} ms, p95 ${at(95)} ms, p99 ${at(99)} ms`);

  // 3. Through the edge.
  const edge = mesh.url("edge");
  const search = async (q: string) => {
    const res = await fetch(`${edge}/v1/search/posts?query=${encodeURIComponent(q)}`);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    return ((await res.json()) as { posts?: unknown[] }).posts?.length ?? 0;
  };
  // Read model off (hydrated from post, identity, graph on every search) and on (search's
  // own Redis), search restarted between them, interleaved off, on, off, on so the box's
  // other load falls on both alike. Each warm-up runs every word once: the read model
  // has every post's snapshot after it (in production post_created writes it; the
  // bench's posts went straight into MariaDB, so the first read of each loads it).
  const runs: Record<"off" | "on", Array<{ words: LoopResult & { empty: number }; typos: LoopResult & { empty: number } }>> = { off: [], on: [] };
  for (let round = 1; round <= 2; round++) {
    for (const mode of ["off", "on"] as const) {
      mesh.env.OASIS_SEARCH_READ_MODEL = mode === "on" ? "1" : "0";
      await mesh.supervisor.stop("search");
      await mesh.supervisor.restart("search");
      await closedLoop(words.length, (i) => search(words[i % words.length]!));
      await closedLoop(typos.length, (i) => search(typos[i % typos.length]!));
      const pids = Object.fromEntries(["edge", "search", "post", "identity", "graph"].map((s) => [s, mesh.supervisor.pid(s)]));
      const c0 = { ...snapshot(pids), bench: cpuSeconds(process.pid) };
      const viaEdge = await closedLoop(3000, (i) => search(words[i % words.length]!));
      const c1 = { ...snapshot(pids), bench: cpuSeconds(process.pid) };
      console.log(`round ${round}, read model ${mode.toUpperCase()}: edge, words (CJK, English, prefixes): ${fmt(viaEdge)}`);
      console.log(`  CPU per search: ${perRequest(c0, c1, viaEdge.count)}`);
      const withTypos = await closedLoop(1000, (i) => search(typos[i % typos.length]!));
      console.log(`round ${round}, read model ${mode.toUpperCase()}: edge, English words with one typo:   ${fmt(withTypos)}`);
      runs[mode].push({ words: viaEdge, typos: withTypos });
    }
  }
  const best = (mode: "off" | "on") => runs[mode].reduce((a, b) => (b.words.p95Ms < a.words.p95Ms ? b : a));
  const viaEdge = best("on").words;
  const before = best("off").words;
  console.log(
    `read model ON vs OFF (better round of each): p50 ${before.p50Ms.toFixed(1)} -> ${viaEdge.p50Ms.toFixed(1)} ms, p95 ${before.p95Ms.toFixed(1)} -> ${viaEdge.p95Ms.toFixed(1)} ms ` +
      `(${(before.p95Ms / viaEdge.p95Ms).toFixed(1)}x), p99 ${before.p99Ms.toFixed(1)} -> ${viaEdge.p99Ms.toFixed(1)} ms, req/s ${before.rate.toFixed(0)} -> ${viaEdge.rate.toFixed(0)} (${(viaEdge.rate / before.rate).toFixed(1)}x)`,
  );

  // 4. Baseline: LIKE on MariaDB.
  const like = async (q: string) => {
    const [rows] = await likeDb.query("SELECT post_id FROM captions WHERE caption LIKE ? ORDER BY post_id DESC LIMIT 20", [`%${q}%`]);
    return (rows as unknown[]).length;
  };
  await closedLoop(50, (i) => like(words[i % words.length]!));
  const viaLike = await closedLoop(1000, (i) => like(words[i % words.length]!));
  console.log(`MariaDB LIKE, same words:           ${fmt(viaLike)}`);

  console.log(
    `ratios: LIKE p95 / edge p95 = ${(viaLike.p95Ms / viaEdge.p95Ms).toFixed(1)}x, edge req/s / LIKE req/s = ${(viaEdge.rate / viaLike.rate).toFixed(1)}x; ` +
      `goal p95 < 50 ms through the edge: ${viaEdge.p95Ms < 50 ? "met" : "NOT met"} (${viaEdge.p95Ms.toFixed(1)} ms)`,
  );
  console.log(`at end: ${load()}`);
  await engine.close();
  await postDb.end();
  await likeDb.query(`DROP DATABASE ${benchDb}`);
  await likeDb.end();
} finally {
  await mesh.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
