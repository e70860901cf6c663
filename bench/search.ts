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
 * 3. Queries at 50 concurrent searches through the edge (GET /v1/search/posts,
 *    anonymous, hydrated PostViews of page size 20), driven by h2load (C, 50 HTTP/1.1
 *    connections, one search in flight on each, spread over the query words taken from
 *    the texts: 2-character Chinese words, English words, English prefixes): req/s,
 *    p50/p95/p99 and CPU per search of each process, in one run, for
 *      A: no request cache (OASIS_SEARCH_CACHE_ENTRIES=0), no JSON reuse at the edge
 *         (OASIS_EDGE_JSON_REUSE_ENTRIES=0);
 *      B: search's request cache (services/search/request-cache.ts) with its
 *         pre-encoded anonymous pages;
 *      C: B plus the edge's JSON reuse (edge/json-reuse.ts);
 *      D: C plus the edge's search page path (edge/search-page-path.ts: an anonymous
 *         page search stored in its Redis, answered by the edge while current); then
 *         with its early refresh (OASIS_EDGE_SEARCH_EARLY_REFRESH), then also with the
 *         edge's copies (OASIS_EDGE_SEARCH_PAGE_COPIES), the three interleaved twice;
 *    search and the edge restarted between them; then D with 20 posts a second
 *    created through post (CreatePost, so events reach search and invalidate its cache
 *    as in production), every write ending every page or only the pages of the queries
 *    it may match (OASIS_SEARCH_QUERY_INVALIDATION 0/1, interleaved off, on, off, on),
 *    with the cache's hit rate (search_request_cache_total) and the share the edge
 *    answered. Goal p95 < 50 ms (the last D phase). The workload is a few hundred
 *    distinct queries repeated, so the cache's hit rate is the favourable case; the
 *    writes phases show what invalidation costs.
 *    OASIS_BENCH_SEARCH_PHASES=levers instead runs only the edge's levers of design note 39
 *    (none; one flight per page and the kept page while young, OASIS_EDGE_SEARCH_STALE_MS;
 *    + early refresh in the background; + copies; + hold), each round all variants
 *    interleaved (OASIS_BENCH_SEARCH_ROUNDS, default 2; OASIS_BENCH_SEARCH_VARIANTS=0,2,4
 *    picks some), then under 20 posts/s the first and the last variant
 *    (OASIS_BENCH_SEARCH_WRITE_VARIANTS=all: every chosen one; OASIS_BENCH_SEARCH_WRITES=0:
 *    none), printing the share the edge answered and how (stale, held, shared flights).
 * 4. Baseline: the same words as `caption LIKE '%word%' ORDER BY post_id DESC LIMIT 20`
 *    on MariaDB over the same 100,000 captions (a table of the bench's own), 50
 *    concurrent through a pool of 20 connections. No typo tolerance, no ranking, no
 *    visibility or hydration: the lower bound of doing it without a search engine.
 * Prints the ratios. Run: bun bench/search.ts [posts, default 100000] [seconds per phase, default 15]
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import { PostSchema, Visibility } from "#gen/oasis/post/v1/post_pb.ts";
import { databaseName } from "#kit/config.ts";
import { createIdGenerator } from "#kit/ids.ts";
import { connectPool, ensureDatabase } from "#kit/mysql.ts";
import { parseHashtags } from "#kit/text.ts";
import { testClient } from "#kit/testing/clients.ts";
import { startTestMesh, testAdminHandle } from "#kit/testing/mesh.ts";
import { inParallel } from "#kit/parallel.ts";
import { fortuneFiles, imagePath, photoNames, readFortunes } from "../demo/data.ts";
import { raiseEdgeLimits } from "../edge/limits-admin.ts";
import { ensureInfra } from "../scripts/infra.ts";
import { analyze } from "../services/search/domain/analyze.ts";
import { EmbeddedEngine } from "../services/search/store.ts";
import { snapshot } from "./lib/cpu.ts";
import { closedLoop as closedLoopOf, type LoopResult } from "./lib/load-clients.ts";
import { runLoad, type LoadResult } from "./lib/h2load.ts";
import { machineLine } from "./lib/machine.ts";

const total = Number(process.argv[2] ?? 100_000);
const seconds = Number(process.argv[3] ?? 15);
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
  // Typo-tolerant queries ranked by one query over every match (OASIS_SEARCH_TIER_WALKS=0)
  // or read tier by tier up to the page (1): the same engine file, interleaved off, on, off, on.
  const single = new EmbeddedEngine(dataDir, 3_600_000, false);
  await single.open();
  const aloneRound = async (e: EmbeddedEngine) => {
    const alone: number[] = [];
    for (const w of [...words, ...typos]) {
      const t = performance.now();
      await e.searchPosts({ query: parseQuery(w)!, limit: 31 });
      alone.push(performance.now() - t);
    }
    alone.sort((a, b) => a - b);
    return (p: number) => alone[Math.floor((p / 100) * alone.length)]!.toFixed(1);
  };
  await aloneRound(engine); // the vocabulary read once
  for (const [label, e] of [["one ranking query", single], ["tier walks", engine], ["one ranking query", single], ["tier walks", engine]] as const) {
    const at = await aloneRound(e);
    console.log(`engine alone (${label}), one at a time, ${words.length + typos.length} queries (words and typos): p50 ${at(50)} ms, p95 ${at(95)} ms, p99 ${at(99)} ms; ${load()}`);
  }
  await single.close();

  // 3. Through the edge: A/B/C/D with h2load, then D under writes.
  const edge = mesh.url("edge");
  const url = (q: string) => `${edge}/v1/search/posts?query=${encodeURIComponent(q)}`;
  const urls = [...new Set(words)].map(url);
  const search = async (q: string) => {
    const res = await fetch(url(q));
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    return ((await res.json()) as { posts?: unknown[] }).posts?.length ?? 0;
  };
  // Every word once, so the read model holds every snapshot (in production post_created
  // writes it; the bench's posts went straight into MariaDB, so the first read loads it).
  const warm = await closedLoop(words.length, (i) => search(words[i % words.length]!));
  console.log(`warm-up: ${fmt(warm)}`);
  const cacheCounts = async () => {
    const text = await (await fetch(`${mesh.metricsUrl("search")}/metrics`)).text();
    const of = (r: string) => Number(new RegExp(`^search_request_cache_total\\{result="${r}"[^}]*\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
    return { hit: of("hit"), shared: of("shared"), miss: of("miss") };
  };
  /** The edge's page path counters: answered by the edge (hit, held, stale, shared) and let through to search (miss). */
  const pageCounts = async () => {
    const text = await (await fetch(`${mesh.metricsUrl("edge")}/metrics`)).text();
    const of = (r: string) => Number(new RegExp(`^edge_search_page_path_total\\{result="${r}"[^}]*\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
    return { answered: of("hit") + of("held") + of("stale") + of("shared"), miss: of("miss"), stale: of("stale"), held: of("held"), shared: of("shared"), refresh: of("refresh") };
  };
  type Phase = { label: string; r: LoadResult; cpu: Record<string, number>; hitRate?: number; writes?: number; edgeShare?: number };
  const phases: Phase[] = [];
  const procs = ["edge", "search", "post", "identity", "graph"];
  const runPhase = async (label: string, env: Record<string, string>, writer?: () => Promise<number>): Promise<Phase> => {
    for (const [k, v] of Object.entries(env)) mesh.env[k] = v;
    for (const name of ["search", "edge"]) {
      await mesh.supervisor.stop(name);
      await mesh.supervisor.restart(name);
    }
    const pids = Object.fromEntries(procs.map((n) => [n, mesh.supervisor.pid(n)]));
    const c0 = snapshot(pids);
    const k0 = await cacheCounts();
    const e0 = await pageCounts();
    let stopWriter = () => {};
    let written: Promise<number> = Promise.resolve(0);
    if (writer) {
      let on = true;
      stopWriter = () => (on = false);
      written = (async () => {
        // 20 posts a second on the clock (open loop: a slow create does not delay the
        // next one), at most 40 in flight.
        let started = 0;
        let done = 0;
        const inflight = new Set<Promise<void>>();
        const t0 = performance.now();
        while (on) {
          const due = t0 + started * 50 - performance.now();
          if (due > 0) await Bun.sleep(due);
          else if (inflight.size >= 40) await Promise.race(inflight);
          else {
            started++;
            const p: Promise<void> = writer()
              .then((n) => void (done += n), () => {})
              .finally(() => inflight.delete(p));
            inflight.add(p);
          }
        }
        await Promise.all(inflight);
        return done;
      })();
    }
    const r = await runLoad({ label, url: urls[0]!, extraUrls: urls.slice(1), http: "h1", connections: concurrency, durationSeconds: seconds, warmupSeconds: 2 });
    stopWriter();
    const writes = await written;
    const c1 = snapshot(pids);
    const k1 = await cacheCounts();
    const e1 = await pageCounts();
    const served = e1.answered - e0.answered;
    const lookups = k1.hit + k1.shared + k1.miss - (k0.hit + k0.shared + k0.miss);
    // Of the searches, those the edge's page path answered (from Redis, its kept page or a
    // shared flight); the rest reached search (the page path's misses).
    const edgeShare = served > 0 ? served / (served + e1.miss - e0.miss) : 0;
    const kinds = `stale ${e1.stale - e0.stale}, held ${e1.held - e0.held}, shared ${e1.shared - e0.shared}, background refreshes ${e1.refresh - e0.refresh}`;
    // h2load's warm-up is in the CPU counts but not in r.requests: per search over both.
    const cpu = Object.fromEntries(procs.map((n) => [n, ((c1[n]! - c0[n]!) * 1e6) / (r.requests + r.rps * 2)]));
    const phase = { label, r, cpu, hitRate: lookups > 0 ? (k1.hit + k1.shared - k0.hit - k0.shared) / lookups : undefined, writes: writer ? writes : undefined, edgeShare };
    console.log(
      `${label}: ${r.requests} searches in ${r.seconds.toFixed(1)} s = ${r.rps.toFixed(0)}/s, p50 ${r.p50Ms.toFixed(1)} ms, p95 ${r.p95Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, ${r.errors} errors` +
        (phase.hitRate !== undefined ? `; cache hit rate ${(phase.hitRate * 100).toFixed(0)}%` : "") +
        (edgeShare > 0 ? `; ${(edgeShare * 100).toFixed(0)}% answered by the edge's page path` : "") +
        (writer ? `; ${writes} posts created (${(writes / (r.seconds + 2)).toFixed(1)}/s)` : "") +
        `; ${load()}`,
    );
    console.log(`  CPU per search: ${procs.map((n) => `${n} ${cpu[n]!.toFixed(0)} us`).join(", ")}; search lookups ${lookups}; edge: ${kinds}`);
    phases.push(phase);
    return phase;
  };
  const off = { OASIS_EDGE_SEARCH_PAGE_PATH: "0" };
  // Writers: real posts through CreatePost (one photo per writer, reused), captions with
  // the query words; the writer makes one post a call and returns 1.
  const startWriter = async (): Promise<() => Promise<number>> => {
    const post = (author: bigint) => testClient(PostService, mesh.url("post"), author);
    const media = new Map<bigint, bigint>();
    const image = readFileSync(imagePath(photoNames[0]!));
    for (const a of authors.slice(0, 10)) {
      media.set(a, (await testClient(MediaService, mesh.url("media"), a).uploadMedia({ bucket: "post-images", data: image, requestId: `bench-${a}` })).media!.id);
    }
    let w = 0;
    return async () => {
      const author = authors[w % 10]!;
      const caption = `${words[(w * 31) % words.length]} ${captions[(w * 7) % captions.length]!.slice(0, 300)}`;
      w++;
      await post(author).createPost({ mediaIds: [media.get(author)!], caption, requestId: `bench-write-${w}` });
      return 1;
    };
  };
  // OASIS_BENCH_SEARCH_PHASES=levers: the edge's levers of design note 39 only, each
  // interleaved off/on twice in this run (see the end of this block), then exits.
  if (process.env.OASIS_BENCH_SEARCH_PHASES === "levers") {
    const lever = (o: { stale?: number; refresh?: boolean; copies?: boolean; hold?: number }) => ({
      OASIS_EDGE_SEARCH_PAGE_PATH: "1",
      OASIS_SEARCH_QUERY_INVALIDATION: "1",
      OASIS_EDGE_SEARCH_STALE_MS: String(o.stale ?? 0),
      OASIS_EDGE_SEARCH_EARLY_REFRESH: o.refresh ? "1" : "0",
      OASIS_EDGE_SEARCH_PAGE_COPIES: o.copies ? "2000" : "0",
      OASIS_EDGE_SEARCH_PAGE_HOLD_MS: String(o.hold ?? 0),
    });
    const variants: Array<[string, ReturnType<typeof lever>]> = [
      ["none", lever({})],
      ["stale 500 ms", lever({ stale: 500 })],
      ["stale + early refresh", lever({ stale: 500, refresh: true })],
      ["stale + early refresh + copies", lever({ stale: 500, refresh: true, copies: true })],
      ["stale + early refresh + hold 250 ms", lever({ stale: 500, refresh: true, hold: 250 })],
    ];
    const only = process.env.OASIS_BENCH_SEARCH_VARIANTS?.split(",").map(Number);
    const chosen = only ? variants.filter((_, i) => only.includes(i)) : variants;
    const rounds = Number(process.env.OASIS_BENCH_SEARCH_ROUNDS ?? 2);
    const steady: Phase[][] = chosen.map(() => []);
    for (let round = 0; round < rounds; round++) for (const [i, [label, env]] of chosen.entries()) steady[i]!.push(await runPhase(`D, ${label}, round ${round + 1}`, env));
    // Under writes, as the writes phases below.
    const writer = await startWriter();
    // OASIS_BENCH_SEARCH_WRITES=0: no writes phases (a profile of the steady state).
    // OASIS_BENCH_SEARCH_WRITE_VARIANTS=all: every chosen variant under writes (default the first and the last).
    const writeVariants = process.env.OASIS_BENCH_SEARCH_WRITES === "0" ? [] : process.env.OASIS_BENCH_SEARCH_WRITE_VARIANTS === "all" ? chosen : [chosen[0]!, chosen.at(-1)!];
    const written: Phase[][] = writeVariants.map(() => []);
    for (let round = 0; round < rounds; round++) for (const [i, [label, env]] of writeVariants.entries()) written[i]!.push(await runPhase(`D under 20 posts/s, ${label}, round ${round + 1}`, env, writer));
    const line = (p: Phase) => `${p.r.rps.toFixed(0)}/s p50 ${p.r.p50Ms.toFixed(1)} p95 ${p.r.p95Ms.toFixed(1)} p99 ${p.r.p99Ms.toFixed(1)} ms edge ${((p.edgeShare ?? 0) * 100).toFixed(0)}% CPU edge ${p.cpu.edge!.toFixed(0)} search ${p.cpu.search!.toFixed(0)} us`;
    console.log(`steady state (no writes), each variant in rounds 1..${rounds}:`);
    for (const [i, [label]] of chosen.entries()) console.log(`  ${label}: ${steady[i]!.map(line).join(" | ")}`);
    console.log(`under 20 posts/s, rounds 1..${rounds}:`);
    for (const [i, [label]] of writeVariants.entries()) console.log(`  ${label}: ${written[i]!.map(line).join(" | ")}`);
    console.log(`at end: ${load()}`);
    await engine.close();
    await postDb.end();
    await likeDb.query(`DROP DATABASE ${benchDb}`);
    await likeDb.end();
    process.exitCode = 0;
  } else {
  // OASIS_BENCH_SEARCH_PHASES=writes: only D and the writes phases (a shorter run).
  const writesOnly = process.env.OASIS_BENCH_SEARCH_PHASES === "writes";
  const skip = (label: string): Promise<Phase> => Promise.resolve({ label, r: { requests: 0, seconds: 0, rps: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, errors: 0 } as LoadResult, cpu: { edge: 0, search: 0 } });
  const maybe = (label: string, env: Record<string, string>) => (writesOnly ? skip(label) : runPhase(label, env));
  const A = await maybe("A: no request cache, no JSON reuse", { ...off, OASIS_SEARCH_CACHE_ENTRIES: "0", OASIS_EDGE_JSON_REUSE_ENTRIES: "0" });
  const B = await maybe("B: request cache", { ...off, OASIS_SEARCH_CACHE_ENTRIES: "10000", OASIS_EDGE_JSON_REUSE_ENTRIES: "0" });
  const C = await maybe("C: request cache + edge JSON reuse", { ...off, OASIS_SEARCH_CACHE_ENTRIES: "10000", OASIS_EDGE_JSON_REUSE_ENTRIES: "2000" });
  // D: the page path; its early refresh and the edge's copies (edge/search-page-path.ts)
  // added one at a time, interleaved: none, refresh, refresh + copies, twice.
  const dEnv = (refresh: boolean, copies: boolean) => ({
    OASIS_EDGE_SEARCH_PAGE_PATH: "1",
    OASIS_EDGE_SEARCH_EARLY_REFRESH: refresh ? "1" : "0",
    OASIS_EDGE_SEARCH_PAGE_COPIES: copies ? "2000" : "0",
    OASIS_SEARCH_QUERY_INVALIDATION: "1",
  });
  const D0 = await runPhase("D: C + the edge's search page path", dEnv(false, false));
  const D1 = await maybe("D + early refresh", dEnv(true, false));
  const D2 = await maybe("D + early refresh + edge copies", dEnv(true, true));
  const D0b = await maybe("D (again)", dEnv(false, false));
  const D1b = await maybe("D + early refresh (again)", dEnv(true, false));
  const D = writesOnly ? D0 : await runPhase("D + early refresh + edge copies (again)", dEnv(true, true));
  const writer = await startWriter();
  // Under writes: every post event ends every page (OASIS_SEARCH_QUERY_INVALIDATION=0) or
  // only those of the queries the post may match (1), interleaved.
  const perQuery = (on: boolean) => ({ ...dEnv(false, false), OASIS_SEARCH_QUERY_INVALIDATION: on ? "1" : "0" });
  const W0 = await runPhase("D under 20 posts/s, every write ends every page", perQuery(false), writer);
  const W1 = await runPhase("D under 20 posts/s, per-query invalidation", perQuery(true), writer);
  const W0b = await runPhase("D under 20 posts/s, every write ends every page (again)", perQuery(false), writer);
  const W = await runPhase("D under 20 posts/s, per-query invalidation (again)", perQuery(true), writer);
  const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}x`;
  const row = (f: (p: Phase) => number) => [A, B, C, D].map((p) => f(p).toFixed(0)).join(" -> ");
  console.log(
    `A -> B -> C -> D: ${row((p) => p.r.rps)} searches/s (${ratio(D.r.rps, A.r.rps)}), p50 ${row((p) => p.r.p50Ms)} ms, p95 ${row((p) => p.r.p95Ms)} ms, ` +
      `p99 ${row((p) => p.r.p99Ms)} ms; CPU per search edge ${row((p) => p.cpu.edge!)} us, search ${row((p) => p.cpu.search!)} us`,
  );
  const ab = (label: string, offs: Phase[], ons: Phase[]) =>
    console.log(
      `${label} off -> on (off, on, off, on): ${offs.map((p, i) => `${p.r.rps.toFixed(0)} -> ${ons[i]!.r.rps.toFixed(0)}/s, p50 ${p.r.p50Ms.toFixed(0)} -> ${ons[i]!.r.p50Ms.toFixed(0)} ms, p95 ${p.r.p95Ms.toFixed(0)} -> ${ons[i]!.r.p95Ms.toFixed(0)} ms, p99 ${p.r.p99Ms.toFixed(0)} -> ${ons[i]!.r.p99Ms.toFixed(0)} ms, edge share ${((p.edgeShare ?? 0) * 100).toFixed(0)} -> ${((ons[i]!.edgeShare ?? 0) * 100).toFixed(0)}%`).join("; ")}`,
    );
  ab("early refresh", [D0, D0b], [D1, D1b]);
  ab("edge copies (with early refresh)", [D1, D1b], [D2, D]);
  ab("per-query invalidation under writes", [W0, W0b], [W1, W]);
  const viaEdge = D.r;

  // 4. Baseline: LIKE on MariaDB.
  const like = async (q: string) => {
    const [rows] = await likeDb.query("SELECT post_id FROM captions WHERE caption LIKE ? ORDER BY post_id DESC LIMIT 20", [`%${q}%`]);
    return (rows as unknown[]).length;
  };
  await closedLoop(50, (i) => like(words[i % words.length]!));
  const viaLike = await closedLoop(1000, (i) => like(words[i % words.length]!));
  console.log(`MariaDB LIKE, same words:           ${fmt(viaLike)}`);

  console.log(
    `ratios: LIKE p95 / edge p95 = ${(viaLike.p95Ms / viaEdge.p95Ms).toFixed(1)}x, edge req/s / LIKE req/s = ${(viaEdge.rps / viaLike.rate).toFixed(1)}x; ` +
      `goal p95 < 50 ms through the edge: ${viaEdge.p95Ms < 50 ? "met" : "NOT met"} (${viaEdge.p95Ms.toFixed(1)} ms)`,
  );
  console.log(`at end: ${load()}`);
  await engine.close();
  await postDb.end();
  await likeDb.query(`DROP DATABASE ${benchDb}`);
  await likeDb.end();
  }
} finally {
  await mesh.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
