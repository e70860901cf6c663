/**
 * The edge reuses the JSON it rendered for an answer when the same answer comes again:
 * keyed by the method, the rendering (whole message, or a REST binding's response_body
 * field) and the answer's exact bytes, so a hit is the JSON of those very bytes. What
 * the edge spent on a search page was mostly that rendering (decoding ~20 PostViews
 * reflectively, toJson, JSON.stringify: ~600 us of ~1.1 ms), and the search service's
 * request cache (services/search/request-cache.ts) answers popular queries with the
 * same bytes again and again.
 *
 * Safe because proto3 JSON is a function of the message alone: equal bytes, equal JSON,
 * whoever asked (a hit compares the whole bytes, never only the hash). Only where safe
 * to keep: methods marked NO_SIDE_EFFECTS (reads; never sign-in answers with tokens or
 * anything a write returns), answers of at most `maxAnswerBytes`, and at most
 * `entries` (OASIS_EDGE_JSON_REUSE_ENTRIES, default 2,000; 0: off) and `maxTotalBytes`
 * held, least recently used dropped first.
 */
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { LRUCache } from "lru-cache";
import type { RoutedMethod } from "./registry.ts";

/** Larger answers are rendered every time (few, and they would crowd the rest out). */
export const maxAnswerBytes = 256 * 1024;
/** Bytes of answers and JSON held at most (UTF-16 JSON counted at 2 bytes a unit). */
export const maxTotalBytes = 64 * 1024 * 1024;

interface Entry {
  readonly bytes: Uint8Array;
  readonly json: string;
}

export class JsonReuse {
  /** Least recently used first out, by count and by bytes (lru-cache, not our own list). */
  private readonly cache: LRUCache<string, Entry> | undefined;
  /** Lookups answered from a kept rendering, and renderings made. */
  hits = 0;
  misses = 0;

  constructor(entries: number) {
    this.cache =
      entries > 0
        ? new LRUCache<string, Entry>({ max: entries, maxSize: maxTotalBytes, sizeCalculation: (e) => e.bytes.byteLength + e.json.length * 2 })
        : undefined;
  }

  /**
   * The JSON of `bytes`, an answer of `routed` rendered as `variant` ("" for the whole
   * message), from a kept rendering when the same answer was rendered before; else
   * `render()`'s, kept when the method and size allow. `render` must depend only on
   * the bytes (and the variant).
   */
  json(routed: RoutedMethod, variant: string, bytes: Uint8Array, render: () => string): string {
    if (!this.cache || routed.method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS || bytes.byteLength > maxAnswerBytes) {
      return render();
    }
    const key = `${routed.path}\u0000${variant}\u0000${Bun.hash(bytes)}`;
    const hit = this.cache.get(key);
    if (hit && Buffer.from(hit.bytes.buffer, hit.bytes.byteOffset, hit.bytes.byteLength).equals(bytes)) {
      this.hits++;
      return hit.json;
    }
    this.misses++;
    const json = render();
    // A copy: the answer's buffer belongs to the connection that read it.
    this.cache.set(key, { bytes: bytes.slice(), json });
    return json;
  }

  /** Entries held now. */
  get size(): number {
    return this.cache?.size ?? 0;
  }
}
