/**
 * Held pieces (design note 51): the pieces of a page that are the same for every viewer
 * (a post's stored bytes, `rm:post`; its counters, `rm:counts`; an author's profile,
 * `rm:author`) held by the page path, tracked on its own connection (Redis client-side
 * caching, as tracking.ts tracks pages), so a page read does not carry them: the page
 * script's lean read (pieces.ts, ReadMode.lean) answers a live post and a referred post
 * as their header only (`\x02<author>,<refer>;`) and counters and profiles as "", and
 * `expandValues` puts the held bytes back, giving the very reply a full read returns. What is
 * not held (a post never read here, a piece changed since) is read in one `MGET` with
 * `CLIENT CACHING YES` (a second round trip) and held from then on. Under the DSB mix a
 * compose pushes a post to ~40 home timelines and every follower's next page changes;
 * with pieces held, the post is read from Redis once per edge, not once per follower
 * page, and a changed page carries only its timeline range and the viewer's own keys.
 *
 * Why the expanded reply is exact: a held value was read by a tracked `MGET` and kept
 * only if no invalidation of its key was seen between sending that `MGET` and handling
 * its reply (the PageTracker's ticket: the value is then the key's value from that
 * `MGET` on until Redis says it changed). Redis writes the `invalidate` push for a change
 * into the connection's output when the change happens, so the push for any change made
 * before the lean read's script ran arrives before the script's reply, and is handled
 * (the value dropped) before the reply's continuation looks the value up. So a value
 * held when the reply is handled is the value the script would have read. A value read
 * by the second `MGET` is a moment newer than the script's reply; the page then shows
 * that post as a read a moment later would, and if its header (author, refer-to, live)
 * differs from the script's, the caller reads the page in full instead (`expandValues`
 * returns undefined).
 *
 * OASIS_EDGE_PAGE_HELD_ENTRIES (pieces held at most, least recently used dropped first;
 * 0: off). Needs tracking (a RESP3 connection with CLIENT TRACKING); without it every
 * read is full.
 */
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import { splitParts } from "./pieces.ts";
import type { PageTracker } from "./tracking.ts";
import type { KeyNames } from "./key-names.ts";

/** Bytes of held keys and values at most. */
export const maxHeldBytes = 64 * 1024 * 1024;

export class HeldPieces {
  private readonly held: LRUCache<string, Buffer>;
  /** Pieces put back from what was held, pieces read by the second MGET, and lean reads read again in full (a header changed between the two). */
  hits = 0;
  fetched = 0;
  fallbacks = 0;

  /**
   * `redis`: the page path's connection, whose `tracker` tracks it (no key prefix);
   * `names`: the keys' names kept (key-names.ts, made for the feed's key prefix), not
   * built per read.
   */
  constructor(
    private readonly redis: Redis,
    private readonly tracker: PageTracker,
    entries: number,
    private readonly names: KeyNames,
  ) {
    this.held = new LRUCache<string, Buffer>({ max: Math.max(1, entries), maxSize: maxHeldBytes, sizeCalculation: (v, k) => v.length + k.length * 2 + 64 });
    tracker.onForget = (keys) => {
      if (keys === null) this.held.clear();
      else for (const k of keys) this.held.delete(k);
    };
  }

  /**
   * Serials of the value objects held (for item keys, items.ts itemKeyBySerial): each
   * value object gets one number when it is held, never given to another, and a held
   * value's bytes are never changed (a changed key is dropped and read into a new object).
   */
  private readonly serials = new WeakMap<Uint8Array, number>();
  private serial = 0;

  /** The serial of `value` if it is (or was) a held value object, else undefined. */
  serialOf(value: Uint8Array): number | undefined {
    return this.serials.get(value);
  }

  /** Whether a lean read may be sent now (tracking is on for the connection). */
  get ready(): boolean {
    return this.tracker.ready;
  }

  /** Pieces held now. */
  get size(): number {
    return this.held.size;
  }

  /**
   * The values of `keys` (as stored, no prefix added) read with `CLIENT CACHING YES`, so
   * Redis tracks them for this connection; each present value is held unless its key was
   * invalidated after the read was sent (then it is used for this page only). null: absent.
   */
  async fetch(keys: readonly string[]): Promise<Array<Buffer | null>> {
    const ticket = this.tracker.begin();
    const results = await this.redis.pipeline().call("CLIENT", "CACHING", "YES").mgetBuffer(...keys).exec();
    const last = results?.at(-1);
    if (!last || last[0]) throw last?.[0] ?? new Error("held pieces' MGET returned nothing");
    const values = last[1] as Array<Buffer | null>;
    this.tracker.noteRead(ticket, keys);
    this.fetched += keys.length;
    keys.forEach((k, i) => {
      const v = values[i];
      if (v && !this.tracker.changedSince(ticket, k)) {
        this.held.set(k, v);
        this.serials.set(v, ++this.serial);
      }
    });
    return values;
  }

  /**
   * Reads of keys in flight, with the order they were sent in: pages that need the same
   * new post at once share one read, if it was sent after their lean read (commands on
   * the connection run in the order sent, so it read the key after their script did).
   */
  private readonly inFlight = new Map<string, { readonly order: number; readonly value: Promise<Buffer | null> }>();
  private order = 0;

  /** Call right before sending a lean read: `expand` joins only reads sent after it. */
  mark(): number {
    return ++this.order;
  }

  /** `fetch` of the `keys` no read sent after `after` and in flight covers, joined with those. */
  private async fetchOnce(keys: readonly string[], after: number): Promise<Map<string, Buffer | null>> {
    const own = keys.filter((k) => (this.inFlight.get(k)?.order ?? 0) <= after);
    if (own.length) {
      const order = ++this.order;
      const read = this.fetch(own);
      own.forEach((k, j) => {
        const entry = { order, value: read.then((values) => values[j] ?? null) };
        this.inFlight.set(k, entry);
        void entry.value.catch(() => {}).finally(() => {
          if (this.inFlight.get(k) === entry) this.inFlight.delete(k);
        });
      });
    }
    const values = await Promise.all(keys.map((k) => this.inFlight.get(k)!.value));
    return new Map(keys.map((k, j) => [k, values[j]!]));
  }

  /**
   * The full reply's parts for a lean one (pieces.ts: the same parts, in the same order,
   * with the held or read-again post bytes, counters and profiles put back) and the values
   * put back, in their order; undefined when a post read again no longer has the header
   * the lean read saw (read the page in full). The full reply is a function of the lean
   * one and those values (the lean reply says where each goes), so a lean reply and values
   * equal to another's give the same full reply (reuse.ts entryLean). Answered at once,
   * without a promise, when every piece was held (the common case: only a post or profile
   * new to this edge is read). `sent`: `mark()` taken right before the lean read was sent
   * (reads of the same keys in flight since are shared).
   */
  expandValues(lean: Buffer, sent = 0): PutBack | undefined | Promise<PutBack | undefined> {
    const parts = splitParts(lean);
    // Where each held piece goes: [part index, key, header the post must start with ("" for counters and profiles)].
    const slots: Array<[number, string, Buffer | undefined]> = [];
    let i = 2;
    const ids = parts[i++]!.toString("latin1");
    const idList = ids ? ids.split(",") : [];
    i++; // celebrities
    const n = Number(parts[i++]!.toString("latin1"));
    const names = this.names;
    for (let k = 0; k < n; k++, i += 4) {
      const post = parts[i]!;
      if (post.length === 0 || post[0] !== 2) continue;
      const p = names.post(idList[k]!);
      slots.push([i, p.post, post], [i + 1, p.counts, undefined]);
    }
    const refers = parts[i++]!.toString("latin1");
    for (const id of refers ? refers.split(",") : []) {
      const post = parts[i]!;
      if (post.length > 0 && post[0] === 2) slots.push([i, names.post(id).post, post]);
      i++;
    }
    const authors = parts[i++]!.toString("latin1");
    for (const a of authors ? authors.split(",") : []) {
      slots.push([i, names.author(a), undefined]);
      i += 2;
    }
    const got: Array<Buffer | null | undefined> = slots.map(([, key]) => this.held.get(key));
    const missing = slots.flatMap(([, key], s) => (got[s] === undefined ? [key] : []));
    this.hits += slots.length - missing.length;
    if (!missing.length) return this.putBack(parts, slots, got);
    return this.fetchOnce([...new Set(missing)], sent).then((byKey) => {
      slots.forEach(([, key], s) => {
        if (got[s] === undefined) got[s] = byKey.get(key) ?? null;
      });
      return this.putBack(parts, slots, got);
    });
  }

  /** The held or read values `got` put in their `slots` of `parts`; undefined when a post's header moved. */
  private putBack(parts: Buffer[], slots: ReadonlyArray<[number, string, Buffer | undefined]>, got: ReadonlyArray<Buffer | null | undefined>): PutBack | undefined {
    const values: Buffer[] = [];
    for (let s = 0; s < slots.length; s++) {
      const [at, , head] = slots[s]!;
      const v = got[s] ?? null;
      if (head) {
        // A live post must still be live with the same author and refer-to.
        if (!v || v.length < head.length || !v.subarray(0, head.length).equals(head)) {
          this.fallbacks++;
          return undefined;
        }
      }
      parts[at] = v ?? empty;
      values.push(parts[at]!);
    }
    return { parts, values };
  }
}

/** A lean reply's parts with the held or read values put back (`values`, in slot order). */
export interface PutBack {
  readonly parts: Buffer[];
  readonly values: readonly Buffer[];
}

const empty = Buffer.alloc(0);
