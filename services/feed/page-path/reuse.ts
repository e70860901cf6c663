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

/** Bytes of replies and pages held at most. */
export const maxReuseBytes = 64 * 1024 * 1024;

interface Entry {
  /** The reply (a copy: the reply's buffer may be the connection's). */
  readonly reply: Buffer;
  readonly page: Uint8Array;
  readonly size: number;
}

export class PageReuse {
  private readonly map = new Map<string, Entry>();
  private held = 0;
  /** Pages answered from a kept one, and pages computed (counted by the caller's lookups). */
  hits = 0;
  misses = 0;

  constructor(
    private readonly entries: number,
    private readonly maxBytes = maxReuseBytes,
  ) {}

  /** The page kept for `key` if it was computed from exactly `reply`; else undefined. */
  get(key: string, reply: Buffer): Uint8Array | undefined {
    const e = this.map.get(key);
    if (!e || !e.reply.equals(reply)) {
      this.misses++;
      return undefined;
    }
    this.map.delete(key);
    this.map.set(key, e);
    this.hits++;
    return e.page;
  }

  /** Keeps `page`, computed for `key` from `reply` (replacing what `key` held). */
  set(key: string, reply: Buffer, page: Uint8Array): void {
    if (this.entries <= 0) return;
    const old = this.map.get(key);
    if (old) this.drop(key, old);
    const copy = Buffer.from(reply);
    const entry: Entry = { reply: copy, page: page.slice(), size: copy.length + page.byteLength + key.length * 2 };
    this.map.set(key, entry);
    this.held += entry.size;
    while (this.map.size > this.entries || this.held > this.maxBytes) {
      const [k, e] = this.map.entries().next().value!;
      this.drop(k, e);
    }
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
