/**
 * Pages answered before, kept with the Lua reply they were computed from (design note
 * 33): a page is a function of the request (kind, owner, viewer, page size, token) and
 * of the pieces the Lua call returned (pieces.ts), and nothing else (rules.ts and
 * paging.ts are pure, the clock is not read), so when the same request gets the same
 * reply again, byte for byte, the answer is the encoded page kept from last time and
 * the decoding, the rules and the encoding are skipped. The Lua call itself still runs
 * every time: it is what says nothing changed (and it records the read).
 *
 * One entry per request key, holding the last reply and its page; a hit compares the
 * whole reply (never a hash alone). At most `entries` entries and `maxBytes` bytes held
 * (replies and pages), least recently used dropped first.
 */
import { LRUCache } from "lru-cache";
import type { Tracked } from "./tracking.ts";

/** Bytes of replies and pages held at most. */
export const maxReuseBytes = 64 * 1024 * 1024;

interface Entry {
  /** The reply (a copy: the reply's buffer may be the connection's); with `values`, the lean reply. */
  readonly reply: Buffer;
  /**
   * A lean read's values put back (held.ts expandValues, design note 62): the
   * full reply is `reply` (lean) with these in its slots, so equal lean bytes and equal
   * values are the same full reply. Absent: `reply` is the full reply.
   */
  readonly values?: readonly Buffer[];
  readonly page: Uint8Array;
  /** The page's JSON when it was assembled with it (items.ts pageJson, or pageJsonBytes' UTF-8). */
  readonly json?: string | Uint8Array;
  /** The keys the reply was read from (pieces.ts pageKeys), set by the page path when it first tracks the page. */
  keys?: readonly string[];
  /** Set when the keys are tracked (tracking.ts): while valid, nothing the page shows changed. */
  tracked?: Tracked;
  /** The page was read with the feed's wide window (index.ts tightWindow): read it so again. */
  readonly wide?: boolean;
}

/** Bytes of values put back into a lean reply (reuse.ts Entry.values). */
const valuesSize = (values: readonly Buffer[]) => values.reduce((n, v) => n + v.length, 0);

/** A kept page as `peek` shows it. */
export type KeptPage = Readonly<Omit<Entry, "tracked" | "keys">> & { tracked?: Tracked; keys?: readonly string[] };

export class PageReuse {
  /** Least recently used first out, by count and by bytes (lru-cache, not our own list). */
  private readonly cache: LRUCache<string, Entry> | undefined;
  /** Pages answered from a kept one, and pages computed (counted by the caller's lookups). */
  hits = 0;
  misses = 0;

  /** Pages answered from a kept one known unchanged by tracking (tracking.ts), without reading it. */
  unchanged = 0;

  /** Called with the tracking of an entry replaced or dropped (tracking.ts PageTracker.release; set by the page path). */
  release?: (t: Tracked) => void;

  constructor(entries: number, maxBytes = maxReuseBytes) {
    this.cache =
      entries > 0
        ? new LRUCache<string, Entry>({
            max: entries,
            maxSize: maxBytes,
            // A tracked page's keys (set later, about the reply's size) are not counted.
            sizeCalculation: (e, key) => e.reply.length + (e.values ? valuesSize(e.values) : 0) + e.page.byteLength + (typeof e.json === "string" ? e.json.length * 2 : (e.json?.byteLength ?? 0)) + key.length * 2,
            dispose: (e) => {
              if (e.tracked) this.release?.(e.tracked);
            },
          })
        : undefined;
  }

  /** The entry kept for `key` (recently used, not counted as a hit or a miss). */
  peek(key: string): KeptPage | undefined {
    return this.cache?.get(key);
  }

  /** The page kept for `key` if it was computed from exactly `reply`; else undefined. */
  get(key: string, reply: Buffer): Uint8Array | undefined {
    return this.entry(key, reply)?.page;
  }

  /** As `get`, with the page's JSON when it was kept with it. */
  entry(key: string, reply: Buffer): { readonly page: Uint8Array; readonly json?: string | Uint8Array } | undefined {
    const e = this.cache?.get(key);
    if (!e || e.values || !e.reply.equals(reply)) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return e;
  }

  /**
   * As `entry`, for a lean reply and the values put back into it (held.ts expandValues):
   * the page kept for `key` if it was kept from the same lean bytes and values (the same
   * value object, or equal bytes), i.e. from the same full reply; else undefined.
   */
  entryLean(key: string, lean: Buffer, values: readonly Buffer[]): { readonly page: Uint8Array; readonly json?: string | Uint8Array } | undefined {
    const e = this.cache?.get(key);
    const kept = e?.values;
    let same = kept !== undefined && kept.length === values.length && e!.reply.equals(lean);
    for (let i = 0; same && i < values.length; i++) same = values[i] === kept![i] || values[i]!.equals(kept![i]!);
    if (!same) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return e;
  }

  /**
   * Keeps `page` (and its JSON, when given), computed for `key` from `reply` (replacing
   * what `key` held); `wide`: read with the wide window. Both copied (a reply may be a
   * slice of the connection's read buffer).
   */
  set(key: string, reply: Buffer, page: Uint8Array, json?: string | Uint8Array, wide?: boolean): void {
    this.cache?.set(key, { reply: Buffer.from(reply), page: page.slice(), json, wide });
  }

  /**
   * Keeps `page` (assembled for this read: kept as it is) and its JSON for `key`, computed
   * from the lean reply `lean` (copied: it may be the connection's) with `values` put back
   * (`entryLean`).
   */
  setLean(key: string, lean: Buffer, values: readonly Buffer[], page: Uint8Array, json?: string | Uint8Array, wide?: boolean): void {
    this.cache?.set(key, { reply: Buffer.from(lean), values, page, json, wide });
  }

  /** Entries held now. */
  get size(): number {
    return this.cache?.size ?? 0;
  }
}
