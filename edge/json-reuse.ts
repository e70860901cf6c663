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
import type { RoutedMethod } from "./registry.ts";

/** Larger answers are rendered every time (few, and they would crowd the rest out). */
export const maxAnswerBytes = 256 * 1024;
/** Bytes of answers and JSON held at most (UTF-16 JSON counted at 2 bytes a unit). */
export const maxTotalBytes = 64 * 1024 * 1024;

interface Entry {
  readonly bytes: Uint8Array;
  readonly json: string;
  readonly size: number;
}

export class JsonReuse {
  private readonly map = new Map<string, Entry>();
  private held = 0;
  /** Lookups answered from a kept rendering, and renderings made. */
  hits = 0;
  misses = 0;

  constructor(private readonly entries: number) {}

  /**
   * The JSON of `bytes`, an answer of `routed` rendered as `variant` ("" for the whole
   * message), from a kept rendering when the same answer was rendered before; else
   * `render()`'s, kept when the method and size allow. `render` must depend only on
   * the bytes (and the variant).
   */
  json(routed: RoutedMethod, variant: string, bytes: Uint8Array, render: () => string): string {
    if (this.entries === 0 || routed.method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS || bytes.byteLength > maxAnswerBytes) {
      return render();
    }
    const key = `${routed.path}\u0000${variant}\u0000${Bun.hash(bytes)}`;
    const hit = this.map.get(key);
    if (hit && Buffer.from(hit.bytes.buffer, hit.bytes.byteOffset, hit.bytes.byteLength).equals(bytes)) {
      this.map.delete(key);
      this.map.set(key, hit);
      this.hits++;
      return hit.json;
    }
    this.misses++;
    const json = render();
    if (hit) this.drop(key, hit);
    // A copy: the answer's buffer belongs to the connection that read it.
    const entry = { bytes: bytes.slice(), json, size: bytes.byteLength + json.length * 2 };
    this.map.set(key, entry);
    this.held += entry.size;
    while (this.map.size > this.entries || this.held > maxTotalBytes) {
      const [k, e] = this.map.entries().next().value!;
      this.drop(k, e);
    }
    return json;
  }

  /** Entries held now. */
  get size(): number {
    return this.map.size;
  }

  private drop(key: string, e: Entry): void {
    this.map.delete(key);
    this.held -= e.size;
  }
}
