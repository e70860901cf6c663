/**
 * Per-query invalidation's matcher (domain/query-match.ts) against the embedded engine
 * itself: over real captions (Tang poems, Song lyrics, fortunes) and queries made of
 * their words (2-character Chinese words, English words, prefixes, words with a typo,
 * tags), every post the engine finds must be one `couldMatch` says it may match. A
 * false "no" would leave a stale page, so this is the property that matters; how many
 * false "yes" it gives is printed, not asserted.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseHashtags } from "#kit/text.ts";
import { fortuneFiles, readFortunes } from "../../demo/data.ts";
import { parseQuery } from "./domain/analyze.ts";
import { couldMatch, postTerms } from "./domain/query-match.ts";
import { EmbeddedEngine } from "./store.ts";

/** Posts of the ranking test, indexed before any query reads the (2 s cached) vocabulary of typo variants. */
const base = 100_000n;
const docs = ["the alligator sleeps", "an aligator swims", "alligator eggs", "the allegator waits", "alligators", "alligator again"];
let dir: string;
let engine: EmbeddedEngine;
const captions: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "oasis-query-match-"));
  engine = new EmbeddedEngine(dir, 3_600_000);
  await engine.open();
  for (const f of fortuneFiles()) {
    const tag = f.startsWith("zh-tang") ? "唐诗" : f.startsWith("zh-song") ? "宋词" : f.replace(/^en-|\.fortune$/g, "");
    const texts = readFortunes(f);
    for (let i = 0; i < texts.length && i < 150; i += 3) captions.push(`${texts[i]!.slice(0, 300)} #${tag}`);
  }
  for (const [i, caption] of docs.entries()) await engine.upsertPost({ postId: base + BigInt(i), authorId: 2n, caption, hashtags: [], createdMs: 50_000 + i, visibility: 1, version: 0 });
  for (const [i, caption] of captions.entries()) {
    await engine.upsertPost({ postId: BigInt(i + 1), authorId: 1n, caption, hashtags: parseHashtags(caption), createdMs: 1_000 + i, visibility: 1, version: 0 });
  }
});

afterAll(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

test("every post the engine finds for a query is one couldMatch accepts (words, prefixes, typos, CJK, tags, diacritics)", async () => {
  const seg = new Intl.Segmenter("zh", { granularity: "word" });
  const zh = new Set<string>();
  const en = new Set<string>();
  for (const c of captions) {
    for (const s of seg.segment(c)) {
      if (/^\p{Script=Han}{2}$/u.test(s.segment)) zh.add(s.segment);
      else if (/^[a-z]{5,12}$/.test(s.segment)) en.add(s.segment);
    }
  }
  const pick = <T>(xs: T[], n: number) => Array.from({ length: n }, (_, i) => xs[(i * 7919) % xs.length]!);
  const enWords = pick([...en], 60);
  const raw = [
    ...pick([...zh], 60),
    ...enWords,
    ...enWords.map((w) => w.slice(0, 3)), // a prefix being typed
    ...enWords.map((w) => w.slice(0, 3) + (w[3] === "x" ? "y" : "x") + w.slice(4)), // one typo
    ...enWords.slice(0, 10).map((w) => `${w} `), // not a prefix
    "#唐诗 明月",
    "#宋词",
    "cafe",
  ];
  captions.push("a café au lait #Café"); // diacritics: FTS5 folds them, the matcher must too
  await engine.upsertPost({ postId: BigInt(captions.length), authorId: 1n, caption: captions.at(-1)!, hashtags: parseHashtags(captions.at(-1)!), createdMs: 9_999, visibility: 1, version: 0 });
  const terms = captions.map((c) => postTerms(c, parseHashtags(c)));
  const termsOf = (id: bigint) => (id >= base ? postTerms(docs[Number(id - base)]!, []) : terms[Number(id) - 1]!);
  let found = 0;
  let accepted = 0;
  const missed: string[] = [];
  for (const r of raw) {
    const query = parseQuery(r)!;
    const hits = await engine.searchPosts({ query, limit: 10_000 });
    found += hits.length;
    for (const h of hits) if (!couldMatch(query, termsOf(h.id))) missed.push(`${JSON.stringify(r)} -> post ${h.id}`);
    accepted += terms.filter((t) => couldMatch(query, t)).length;
  }
  expect(found).toBeGreaterThan(raw.length); // the queries do find posts
  expect((await engine.searchPosts({ query: parseQuery("cafe")!, limit: 10 })).length).toBe(1);
  expect(missed).toEqual([]);
  console.log(`${raw.length} queries over ${captions.length} posts: the engine found ${found}, couldMatch accepted ${accepted}`);
});

test("a post that shares nothing with a query is not matched", () => {
  const t = postTerms("the moon over the river #night", ["night"]);
  expect(couldMatch(parseQuery("moon")!, t)).toBe(true);
  expect(couldMatch(parseQuery("mo")!, t)).toBe(true); // prefix
  expect(couldMatch(parseQuery("rivet ")!, t)).toBe(true); // one typo in 5 letters
  expect(couldMatch(parseQuery("mo ")!, t)).toBe(false); // a finished word, too short for typos
  expect(couldMatch(parseQuery("sun")!, t)).toBe(false);
  expect(couldMatch(parseQuery("moon #day")!, t)).toBe(false);
  expect(couldMatch(parseQuery("明月")!, postTerms("床前明月光", []))).toBe(true);
  expect(couldMatch(parseQuery("明光")!, postTerms("床前明月光", []))).toBe(false);
});

test("the engine ranks exact matches before typo-only ones, each newest first, and pages through both tiers without duplicates (tier walks on and off)", async () => {
  const query = parseQuery("alligator ")!; // a finished word: no prefix, one typo allowed
  const all = (await engine.searchPosts({ query, limit: 1_000 })).map((h) => h.id).filter((id) => id >= base);
  // Exact newest first, then the typos (one edit: aligator, allegator, alligators) newest first.
  expect(all).toEqual([base + 5n, base + 2n, base + 0n, base + 4n, base + 3n, base + 1n]);
  const paged: bigint[] = [];
  let cursor;
  for (let i = 0; i < 100; i++) {
    const hits = await engine.searchPosts({ query, limit: 2, cursor });
    if (!hits.length) break;
    paged.push(...hits.map((h) => h.id));
    cursor = hits.at(-1)!.cursor;
  }
  expect(paged.filter((id) => id >= base)).toEqual(all);
  expect(new Set(paged).size).toBe(paged.length);
  // The single ranking query (OASIS_SEARCH_TIER_WALKS=0) reads the same.
  const single = new EmbeddedEngine(dir, 3_600_000, false);
  await single.open();
  try {
    expect((await single.searchPosts({ query, limit: 1_000 })).map((h) => h.id).filter((id) => id >= base)).toEqual(all);
    const page1 = await single.searchPosts({ query, limit: 3 });
    const page2 = await engine.searchPosts({ query, limit: 1_000, cursor: page1.at(-1)!.cursor });
    expect([...page1, ...page2].map((h) => h.id)).toEqual((await engine.searchPosts({ query, limit: 1_000 })).map((h) => h.id));
  } finally {
    await single.close();
  }
});
