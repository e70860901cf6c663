/**
 * Rendered items (items.ts): a page assembled from kept item renderings is the same
 * bytes, and the same JSON, as the page built from the pieces and encoded whole
 * (index.ts source, toBinary, toJson); and a kept rendering is never answered for an
 * item one of whose pieces changed (the post, its counters, the viewer's flags or state,
 * the author's profile, the relationship, the referred post, its author's profile or
 * relationship) or for a viewer who differs in what the rules ask (is the author).
 */
import { expect, test } from "bun:test";
import { create, toBinary, toJson } from "@bufbuild/protobuf";
import { GetHomeFeedResponseSchema } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import { RelationshipSchema } from "#gen/oasis/graph/v1/graph_pb.ts";
import { ProfileSchema } from "#gen/oasis/identity/v1/profile_pb.ts";
import { PostCountsSchema, ViewerStateSchema } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { PostSchema, Visibility } from "#gen/oasis/post/v1/post_pb.ts";
import { collectPage, nextToken, roundWant } from "../domain/paging.ts";
import { source, renderedSource } from "./index.ts";
import { ItemCache, itemKey, pageBytes, pageJson } from "./items.ts";
import { encodeStoredPost, parsePieces } from "./pieces.ts";

const [V, A, B] = [100n, 200n, 300n];

/** What the page script would return for a timeline (pieces.ts pageScript's reply format). */
interface World {
  posts: Array<{ id: bigint; author: bigint; visibility?: Visibility; caption?: string; refer?: bigint; likes?: bigint; flags?: string; state?: { liked: boolean } }>;
  referred: Array<{ id: bigint; author: bigint; visibility?: Visibility; caption?: string }>;
  profiles: Map<bigint, { name: string; private?: boolean }>;
  rels: Map<bigint, { following: boolean; followedBy: boolean }>;
}

function base(): World {
  return {
    posts: [
      { id: 1009n, author: A, caption: "春眠不觉晓 — a caption long enough that its PostView is over 127 bytes, so lengths take two varint bytes ".repeat(2), likes: 3n, flags: "100" },
      { id: 1008n, author: B, visibility: Visibility.FOLLOWERS, caption: "followers only", flags: "110" },
      { id: 1007n, author: A, caption: "look", refer: 1001n, flags: "000", state: { liked: false } },
      { id: 1006n, author: V, visibility: Visibility.MUTUAL_FANS, caption: "mine, mutual fans only", flags: "100" },
      { id: 1005n, author: B, caption: "public post of a private author", flags: "100" },
    ],
    referred: [{ id: 1001n, author: B, caption: "the referred one" }],
    profiles: new Map([
      [A, { name: "Ann" }],
      [B, { name: "Bo", private: true }],
      [V, { name: "Me" }],
    ]),
    rels: new Map([
      [A, { following: true, followedBy: false }],
      [B, { following: true, followedBy: true }],
      [V, { following: false, followedBy: false }],
    ]),
  };
}

function reply(w: World): Buffer {
  const post = (p: { id: bigint; author: bigint; visibility?: Visibility; caption?: string; refer?: bigint }) =>
    encodeStoredPost(create(PostSchema, { postId: p.id, authorId: p.author, visibility: p.visibility ?? Visibility.PUBLIC, caption: p.caption ?? "", referPostId: p.refer ?? 0n }));
  const authors = [...new Set([...w.posts.map((p) => p.author), ...w.referred.map((p) => p.author)])];
  const parts: Buffer[] = [Buffer.from("ok"), Buffer.from("600000 86400 1"), Buffer.from(w.posts.map((p) => p.id).join(",")), Buffer.from(""), Buffer.from(String(w.posts.length))];
  for (const p of w.posts) {
    parts.push(post(p), Buffer.from(toBinary(PostCountsSchema, create(PostCountsSchema, { postId: p.id, likes: p.likes ?? 0n }))), Buffer.from(p.flags ?? "100"));
    parts.push(p.state ? Buffer.from(toBinary(ViewerStateSchema, create(ViewerStateSchema, { postId: p.id, liked: p.state.liked }))) : Buffer.from(""));
  }
  parts.push(Buffer.from(w.referred.map((p) => p.id).join(",")), ...w.referred.map(post));
  parts.push(Buffer.from(authors.join(",")));
  for (const a of authors) {
    const pr = w.profiles.get(a)!;
    const r = w.rels.get(a)!;
    parts.push(Buffer.from(toBinary(ProfileSchema, create(ProfileSchema, { userId: a, handle: pr.name.toLowerCase(), displayName: pr.name, private: pr.private ?? false }))));
    parts.push(Buffer.from(toBinary(RelationshipSchema, create(RelationshipSchema, { userId: a, following: r.following, followedBy: r.followedBy, mutual: r.following && r.followedBy }))));
  }
  return Buffer.concat([Buffer.from(parts.map((p) => p.length).join(",") + ";"), ...parts]);
}

type Ready = Extract<ReturnType<typeof parsePieces>, { ok: true }>;

/** The page as index.ts builds it without rendered items: PostViews, encoded whole. */
async function plainPage(raw: Buffer, viewer: bigint, limit: number) {
  const window = roundWant(limit);
  const { items, more } = await collectPage(source(parsePieces(raw) as Ready, viewer, window), limit, undefined);
  const msg = create(GetHomeFeedResponseSchema, { items, nextPageToken: nextToken("ht", viewer, items.at(-1)?.post!.postId, more) });
  return { bytes: Buffer.from(toBinary(GetHomeFeedResponseSchema, msg)).toString("hex"), json: JSON.stringify(toJson(GetHomeFeedResponseSchema, msg)) };
}

/** The page assembled from rendered items kept in `cache`. */
async function renderedPage(raw: Buffer, viewer: bigint, limit: number, cache: ItemCache) {
  const window = roundWant(limit);
  const { items, more } = await collectPage(renderedSource(parsePieces(raw) as Ready, viewer, window, cache), limit, undefined);
  const token = nextToken("ht", viewer, items.at(-1)?.postId, more);
  return { bytes: Buffer.from(pageBytes(items, token)).toString("hex"), json: pageJson(items, token) };
}

test("a page assembled from rendered items is the bytes and the JSON of the page encoded whole, kept or not", async () => {
  for (const limit of [10, 2, 1]) {
    const cache = new ItemCache(100);
    const raw = reply(base());
    const want = await plainPage(raw, V, limit);
    expect(await renderedPage(raw, V, limit, cache)).toEqual(want);
    const misses = cache.misses;
    expect(await renderedPage(raw, V, limit, cache)).toEqual(want);
    // The second time every item came from the cache.
    expect(cache.misses).toBe(misses);
    expect(cache.hits).toBeGreaterThan(0);
  }
  // Several items, a refer-to, a token (limit 2) and items over 127 bytes are in there.
  const two = await plainPage(reply(base()), V, 2);
  expect(JSON.parse(two.json).nextPageToken).toBeTruthy();
  expect(JSON.parse((await plainPage(reply(base()), V, 10)).json).items.some((v: any) => v.refer?.available)).toBe(true);
});

test("an empty page: {} and no bytes", async () => {
  const w = base();
  w.posts = [];
  w.referred = [];
  expect(await renderedPage(reply(w), V, 10, new ItemCache(10))).toEqual(await plainPage(reply(w), V, 10));
  expect(pageJson([], "")).toBe("{}");
});

test("a kept rendering is never answered for an item whose pieces changed, or for a viewer the rules treat differently", async () => {
  const changes: Array<[string, (w: World) => void, bigint?]> = [
    ["the post's caption", (w) => void (w.posts[0]!.caption = "edited")],
    ["its counters", (w) => void (w.posts[0]!.likes = 4n)],
    ["the viewer's flags (a like)", (w) => void (w.posts[0]!.flags = "110")],
    ["the viewer's stored state", (w) => void (w.posts[2]!.state = { liked: true })],
    ["the author's profile", (w) => void (w.profiles.get(A)!.name = "Anne")],
    ["the author turning private", (w) => void (w.profiles.get(A)!.private = true)],
    ["the relationship (unfollowed)", (w) => void (w.rels.get(B)!.following = false)],
    ["the relationship (followed by)", (w) => void (w.rels.get(A)!.followedBy = true)],
    ["the referred post", (w) => void (w.referred[0]!.caption = "the referred one, edited")],
    ["the referred post's author going private for this viewer", (w) => void (w.referred[0]!.visibility = Visibility.MUTUAL_FANS, w.rels.get(B)!.followedBy = false)],
    ["another viewer, the same pieces (not the author of the mutual-fans post)", () => {}, 400n],
  ];
  for (const [what, change, viewer] of changes) {
    const cache = new ItemCache(100);
    const before = await renderedPage(reply(base()), V, 10, cache);
    const w = base();
    change(w);
    const want = await plainPage(reply(w), viewer ?? V, 10);
    // The change shows on the page (else this case would test nothing)...
    expect({ what, changed: want.json !== before.json }).toEqual({ what, changed: true });
    // ...and the page from the warm cache is the page computed afresh.
    expect({ what, page: await renderedPage(reply(w), viewer ?? V, 10, cache) }).toEqual({ what, page: want });
  }
});

test("item keys by serial: a held piece is named by its serial, other pieces by their bytes, and keys differ whenever either does", () => {
  const post = Buffer.alloc(40, 7);
  const profile = Buffer.alloc(30, 9);
  const small = Buffer.from("110", "latin1");
  const serials = new Map<Uint8Array, number>([[post, 1], [profile, 2]]);
  const serialOf = (b: Uint8Array) => serials.get(b);
  const key = (parts: Uint8Array[], of = serialOf) => itemKey({ interaction: true, selfAuthor: false, selfReferAuthor: false, parts }, of);
  const k = key([post, small, profile]);
  // Two serials (1 + 8 bytes each) and the small part's tag, length and bytes, after the flags byte.
  expect(k.length).toBe(1 + 9 + (5 + small.length) + 9);
  expect(key([post, small, profile]).equals(k)).toBe(true);
  // The same bytes held as another object (another serial): another key.
  const again = Buffer.from(post);
  serials.set(again, 3);
  expect(key([again, small, profile]).equals(k)).toBe(false);
  // The same bytes not held: named by its bytes, another key again.
  expect(key([Buffer.from(post), small, profile]).equals(k)).toBe(false);
  // Without serials (nothing held), equal bytes are equal keys.
  const none = () => undefined;
  expect(key([post, small, profile], none).equals(key([Buffer.from(post), small, profile], none))).toBe(true);
  expect(key([post, small, profile], none).equals(key([Buffer.alloc(40, 8), small, profile], none))).toBe(false);
  // A serial is never mistaken for bytes of the same length: the tag tells them apart.
  expect(key([Buffer.alloc(8), small, profile], none).equals(key([post, small, profile]))).toBe(false);
});
