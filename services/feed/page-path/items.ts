/**
 * Rendered items (design note 40): each hydrated timeline item's encoded PostView and
 * its proto3 JSON, kept by the exact bytes of the pieces it was computed from, so a page
 * never served before but made of items seen before (a user timeline read by another
 * viewer, a home page one compose pushed down) is assembled by concatenating kept
 * fragments instead of decoding the pieces, applying the rules, building PostViews and
 * encoding them (to Protobuf, then again to JSON at the edge).
 *
 * An item is a function of its pieces alone (rules.ts `present` decides each post on its
 * own): the post (`rm:post` bytes), its counters, the viewer's flags and state, the
 * author's profile and the viewer's relationship to them, and for a refer-to the
 * referred post and its author's profile and relationship; plus whether the counters are
 * served at all (the read model's setting) and whether the viewer is the post's (or the
 * referred post's) author, the one thing the rules ask of the viewer beyond the pieces.
 * The key is all of those, byte for byte, so any change, and any difference between
 * viewers that the item shows (a relationship, a like), is another key. A hit compares
 * the whole key, never a hash alone. An item the rules hide is kept as hidden.
 *
 * A page is then what protobuf-es would write for the response message: each item as
 * field 1 (tag, length, the PostView's bytes), then the page token as field 2; and what
 * `JSON.stringify(toJson(...))` would write: `{"items":[<item JSON>,...],"nextPageToken":...}`,
 * empty members left out (page-path.test.ts compares both with the feed's own answers).
 * At most `entries` items and `maxBytes` (keys, bytes and JSON) held, least recently
 * used dropped first (OASIS_EDGE_PAGE_ITEM_ENTRIES, default 20,000; 0: off).
 */
import { toBinary, toJson } from "@bufbuild/protobuf";
import { LRUCache } from "lru-cache";
import { PostViewSchema, type PostView } from "#gen/oasis/feed/v1/feed_pb.ts";

/** Bytes of keys, encoded items and their JSON held at most (JSON counted at 2 bytes a unit). */
export const maxItemBytes = 64 * 1024 * 1024;

/** An item as a page shows it: its post id, encoded PostView and JSON; or hidden by the rules. */
export interface RenderedItem {
  readonly postId: bigint;
  /** The PostView's Protobuf; undefined when the rules hide the post from this viewer. */
  readonly bytes?: Uint8Array;
  /** Its proto3 JSON as text; or, from an ItemCache with `jsonBytes`, as UTF-8 bytes (`utf8`, then no text). */
  readonly json?: string;
  readonly utf8?: Uint8Array;
}

interface Entry {
  readonly key: Buffer;
  readonly item: RenderedItem;
}

/** The pieces one item is computed from (pieces.ts RawItem and the maps beside it), "" when absent. */
export interface ItemPieces {
  readonly interaction: boolean;
  readonly selfAuthor: boolean;
  readonly selfReferAuthor: boolean;
  readonly parts: readonly Uint8Array[];
}

/**
 * The serial of a piece whose bytes never change (held.ts HeldPieces serialOf: one number
 * per held value object, never given to another), or undefined.
 */
export type SerialOf = (part: Uint8Array) => number | undefined;

/**
 * The key of an item: its flags, then each part as a tag and either, for a part
 * `serialOf` knows (a held piece, held.ts serialOf), its serial (tag 1, 8 bytes), or its
 * 4-byte length and bytes (tag 0). A serial names one held value object, whose bytes do
 * not change, so equal keys still mean equal pieces; the same bytes held again as another
 * object get another serial (a miss: rendered again). A changed page's items then key on
 * ~100 bytes each instead of their posts' and profiles' ~2 KB, copied, hashed and compared
 * per item per read (design note 66).
 */
export function itemKey(p: ItemPieces, serialOf: SerialOf = () => undefined): Buffer {
  let size = 1;
  const serials: Array<number | undefined> = [];
  for (const part of p.parts) {
    const n = part.length > 16 ? serialOf(part) : undefined;
    serials.push(n);
    size += n === undefined ? 5 + part.length : 9;
  }
  const key = Buffer.allocUnsafe(size);
  key[0] = (p.interaction ? 1 : 0) | (p.selfAuthor ? 2 : 0) | (p.selfReferAuthor ? 4 : 0);
  let at = 1;
  p.parts.forEach((part, i) => {
    const n = serials[i];
    if (n !== undefined) {
      key[at] = 1;
      key.writeDoubleLE(n, at + 1);
      at += 9;
    } else {
      key[at] = 0;
      key.writeUInt32LE(part.length, at + 1);
      key.set(part, at + 5);
      at += 5 + part.length;
    }
  });
  return key;
}

/**
 * An item from its PostView (undefined: hidden), rendered as the page encodes it; with
 * `utf8`, its JSON kept as UTF-8 bytes (pageJsonBytes splices them) instead of text.
 */
export function renderItem(postId: bigint, view: PostView | undefined, utf8 = false): RenderedItem {
  if (!view) return { postId };
  const json = JSON.stringify(toJson(PostViewSchema, view));
  return utf8 ? { postId, bytes: toBinary(PostViewSchema, view), utf8: Buffer.from(json, "utf8") } : { postId, bytes: toBinary(PostViewSchema, view), json };
}

export class ItemCache {
  private readonly cache: LRUCache<number | bigint, Entry>;
  /** Items answered from a kept rendering, and items computed. */
  hits = 0;
  misses = 0;

  /**
   * `jsonBytes` (OASIS_EDGE_PAGE_SPLICE, design note 59): items keep their JSON as UTF-8
   * bytes and pages' JSON is spliced from them (pageJsonBytes), so the edge answers bytes
   * that need no joining of strings nor encoding to UTF-8 per read.
   */
  constructor(
    entries: number,
    maxBytes = maxItemBytes,
    readonly jsonBytes = false,
  ) {
    this.cache = new LRUCache<number | bigint, Entry>({
      max: Math.max(1, entries),
      maxSize: maxBytes,
      sizeCalculation: (e) => e.key.length + (e.item.bytes?.byteLength ?? 0) + (e.item.json?.length ?? 0) * 2 + (e.item.utf8?.byteLength ?? 0) + 64,
    });
  }

  /** The item kept for exactly `key`; else `compute()`'s, kept unless it returned undefined (not to be kept). */
  get(key: Buffer, compute: () => RenderedItem | undefined): RenderedItem | undefined {
    const h = Bun.hash(key);
    const e = this.cache.get(h);
    if (e && e.key.equals(key)) {
      this.hits++;
      return e.item;
    }
    this.misses++;
    const item = compute();
    if (item) this.cache.set(h, { key, item });
    return item;
  }

  /** Items held now. */
  get size(): number {
    return this.cache.size;
  }
}

/** Appends `n` as a varint. */
function varint(out: number[], n: number): void {
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
}

/**
 * The encoded GetHomeFeedResponse / GetUserFeedResponse (both: `repeated PostView items
 * = 1; string next_page_token = 2;`) of `items` (visible ones) and `token`, as toBinary
 * writes it.
 */
export function pageBytes(items: readonly RenderedItem[], token: string): Uint8Array {
  const head: number[] = [];
  let size = 0;
  const heads: number[][] = [];
  for (const it of items) {
    const h: number[] = [0x0a];
    varint(h, it.bytes!.byteLength);
    heads.push(h);
    size += h.length + it.bytes!.byteLength;
  }
  const tok = token ? Buffer.from(token, "utf8") : undefined;
  if (tok) {
    head.push(0x12);
    varint(head, tok.length);
    size += head.length + tok.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  items.forEach((it, i) => {
    out.set(heads[i]!, at);
    at += heads[i]!.length;
    out.set(it.bytes!, at);
    at += it.bytes!.byteLength;
  });
  if (tok) {
    out.set(head, at);
    out.set(tok, at + head.length);
  }
  return out;
}

const utf8 = (s: string) => Buffer.from(s, "utf8");
const [itemsOpen, brace, comma, itemsClose] = [utf8('{"items":['), utf8("{"), utf8(","), utf8("]")];

/**
 * pageJson's bytes, UTF-8, spliced from items rendered with `utf8` (renderItem): one
 * allocation, each item's bytes copied once; the same bytes as pageJson's text encoded.
 */
export function pageJsonBytes(items: readonly RenderedItem[], token: string): Uint8Array {
  const tail = utf8(`${token ? `${items.length ? "," : ""}"nextPageToken":${JSON.stringify(token)}` : ""}}`);
  let size = (items.length ? itemsOpen.length + itemsClose.length + items.length - 1 : brace.length) + tail.length;
  for (const it of items) size += it.utf8!.byteLength;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  const put = (b: Uint8Array) => {
    out.set(b, at);
    at += b.byteLength;
  };
  if (items.length) {
    put(itemsOpen);
    items.forEach((it, i) => {
      if (i > 0) put(comma);
      put(it.utf8!);
    });
    put(itemsClose);
  } else put(brace);
  put(tail);
  return out;
}

/** The proto3 JSON of the same response, as `JSON.stringify(toJson(...))` writes it. */
export function pageJson(items: readonly RenderedItem[], token: string): string {
  const members: string[] = [];
  if (items.length) members.push(`"items":[${items.map((i) => i.json!).join(",")}]`);
  if (token) members.push(`"nextPageToken":${JSON.stringify(token)}`);
  return `{${members.join(",")}}`;
}
