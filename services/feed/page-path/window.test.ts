/**
 * The tight window (index.ts PagePathOptions.tightWindow, design note 46) against a real
 * Redis: a page read with its size + 2 posts hydrated is the same bytes as the page read
 * with the feed's window (1.5 x size + 2), on every page of timelines of every length from
 * empty to 16 posts, with posts the rules hide (deleted, by a blocked author) placed so
 * that some first windows show fewer posts than a page: those are read again with the wide
 * window (counted), and a request that needed it is read wide from then on (a page the wide
window cannot serve either is a miss, as it is without the tight window). Both ways of
 * building a page are checked: assembled from rendered items and kept (reuse), and encoded
 * whole. It fails if `more` or the items of a tight page differ from collectPage's.
 */
import { afterAll, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Redis } from "ioredis";
import { GetHomeFeedRequestSchema } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import { RelationshipSchema } from "#gen/oasis/graph/v1/graph_pb.ts";
import { ProfileSchema } from "#gen/oasis/identity/v1/profile_pb.ts";
import { PostCountsSchema } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { PostSchema, Visibility } from "#gen/oasis/post/v1/post_pb.ts";
import { createIdGenerator, idTimeMs } from "#kit/ids.ts";
import { deleteKeysWithPrefix } from "#kit/redis.ts";
import { testNamespace } from "#kit/testing/namespace.ts";
import { FeedPagePath, ItemCache, PageReuse } from "./index.ts";
import { encodeStoredPost } from "./pieces.ts";

const url = process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379";
const ns = testNamespace();
const P = `${ns}:oasis:feed:`;
const conns = [new Redis(url), new Redis(url), new Redis(url), new Redis(url)];
afterAll(async () => {
  for (const c of conns) c.disconnect();
  await deleteKeysWithPrefix(url, `${ns}:`);
});

const ids = createIdGenerator(9);
const [A, C] = [ids.next(), ids.next()];
const profile = (id: bigint) => Buffer.from(toBinary(ProfileSchema, create(ProfileSchema, { userId: id, handle: `u${id}`, displayName: `U ${id}` })));
const rel = (id: bigint, r: { following?: boolean; blocking?: boolean }) => Buffer.from(toBinary(RelationshipSchema, create(RelationshipSchema, { userId: id, ...r })));

/**
 * A home timeline of `n` posts for a new viewer, newest first; `hidden(i)` (i: 0 = newest)
 * says which the rules hide: "deleted" (a tombstone) or "blocked" (by an author the viewer blocks).
 */
async function timeline(n: number, hidden: (i: number) => "deleted" | "blocked" | undefined): Promise<bigint> {
  const viewer = ids.next();
  const m = conns[0]!.multi();
  m.set(`${P}hb:${viewer}`, "1");
  m.zadd(`${P}active`, Date.now(), String(viewer));
  m.set(`${P}rm:rel:${viewer}:${A}`, rel(A, { following: true }));
  m.set(`${P}rm:rel:${viewer}:${C}`, rel(C, { following: true, blocking: true }));
  const made: bigint[] = [];
  for (let i = 0; i < n; i++) made.push(ids.next());
  made.reverse(); // made[0] is the newest
  made.forEach((id, i) => {
    const h = hidden(i);
    m.set(`${P}rm:post:${id}`, h === "deleted" ? "\x01" : encodeStoredPost(create(PostSchema, { postId: id, authorId: h === "blocked" ? C : A, caption: `post ${i}`, visibility: Visibility.PUBLIC })));
    m.set(`${P}rm:counts:${id}`, Buffer.from(toBinary(PostCountsSchema, create(PostCountsSchema, { postId: id, likes: BigInt(i) }))));
    m.set(`${P}rm:whole:${id}`, "1");
    m.zadd(`${P}ht:${viewer}`, idTimeMs(id), String(id));
  });
  await m.exec();
  return viewer;
}

/** Every page of `viewer`'s home at `size` posts a page, as `path` answers them (base64 bytes, or the miss). */
async function allPages(path: FeedPagePath, viewer: bigint, size: number): Promise<string[]> {
  const out: string[] = [];
  let token = "";
  do {
    const got = await path.homeEncoded(create(GetHomeFeedRequestSchema, { pageSize: size, pageToken: token }), viewer);
    if (!got.served) {
      out.push(`miss:${got.reason}`);
      break;
    }
    out.push(Buffer.from(got.response.bytes).toString("base64"));
    token = (got.response.json ? JSON.parse(typeof got.response.json === "string" ? got.response.json : Buffer.from(got.response.json).toString()).nextPageToken : undefined) ?? nextTokenOf(got.response.bytes);
  } while (token && out.length < 40);
  return out;
}

/** The next page token of an encoded page (field 2), "" when absent. */
function nextTokenOf(bytes: Uint8Array): string {
  let at = 0;
  let token = "";
  while (at < bytes.length) {
    const tag = bytes[at++]!;
    let len = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[at++]!;
      len |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    if (tag === 0x12) token = Buffer.from(bytes.subarray(at, at + len)).toString("utf8");
    at += len;
  }
  return token;
}

test("a tight window gives the feed window's pages, byte for byte, and reads again wide when too few posts are visible", async () => {
  await conns[0]!.set(`${P}rm:page-path`, "604800000 604800 1 ");
  await conns[0]!.set(`${P}rm:author:${A}`, profile(A));
  await conns[0]!.set(`${P}rm:author:${C}`, profile(C));
  const wide = new FeedPagePath(conns[1]!, P, { sets: true });
  const assembled = new FeedPagePath(conns[2]!, P, { sets: true, tightWindow: true, reuse: new PageReuse(1000), items: new ItemCache(1000) });
  const whole = new FeedPagePath(conns[3]!, P, { sets: true, tightWindow: true });
  const shapes: Array<[string, (i: number) => "deleted" | "blocked" | undefined]> = [
    ["all visible", () => undefined],
    ["every third deleted", (i) => (i % 3 === 1 ? "deleted" : undefined)],
    ["a run of blocked then deleted near the top", (i) => (i >= 1 && i <= 3 ? "blocked" : i === 5 ? "deleted" : undefined)],
    ["all hidden but the last two", (i) => (i < 14 ? (i % 2 ? "deleted" : "blocked") : undefined)],
  ];
  let pages = 0;
  for (const [shape, hidden] of shapes) {
    for (let n = 0; n <= 16; n++) {
      const viewer = await timeline(n, hidden);
      for (const size of [1, 3, 4, 5]) {
        const truth = await allPages(wide, viewer, size);
        for (const [how, path] of [["assembled", assembled], ["whole", whole]] as const) {
          expect({ shape, n, size, how, pages: await allPages(path, viewer, size) }).toEqual({ shape, n, size, how, pages: truth });
        }
        // Read again (kept pages; requests that needed the wide window are read wide at once).
        const before = assembled.wideReads;
        expect({ shape, n, size, again: await allPages(assembled, viewer, size) }).toEqual({ shape, n, size, again: truth });
        // (A page the wide window cannot serve either is a miss, the feed's to answer, and nothing is kept.)
        if (!truth.some((p) => p.startsWith("miss:"))) expect({ shape, n, size, wide: assembled.wideReads }).toEqual({ shape, n, size, wide: before });
        pages += truth.length;
      }
    }
  }
  expect(pages).toBeGreaterThan(300);
  // Some tight windows showed too few posts and were read again wide, by both.
  expect(assembled.wideReads).toBeGreaterThan(10);
  expect(whole.wideReads).toBeGreaterThan(10);
});
