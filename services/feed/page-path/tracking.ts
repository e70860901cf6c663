/**
 * Pages known unchanged without reading their pieces: Redis's client-side caching
 * (CLIENT TRACKING, RESP3, OPTIN) on the page path's own connection (design note 42).
 *
 * A kept page (reuse.ts) is a function of the keys its Lua call read (pageKeys) and of the
 * request. When the page path reads a page it keeps, it first reads those keys once more
 * with `CLIENT CACHING YES` + `EXISTS <keys>` in the same pipeline, right before the page's
 * Lua call: from then on Redis remembers that this connection holds them, and any change
 * to any of them (a write by anyone, this connection included, an expiry, an eviction, a
 * flush) sends an `invalidate` push naming the key, once. If the Lua call then returns the
 * very reply the page was kept with and no key of the page was invalidated since the
 * pipeline was sent, the page is registered as tracked. A later request for it runs only
 * the call's preamble (the rate limit, the session's revocation, the timeline's built and
 * away checks, recording the read) and gets "same"; the kept bytes are the answer unless a
 * key of the page was invalidated.
 *
 * Why that is exact: the pushes travel on the same connection as the replies (RESP3), and
 * Redis writes a push into the connection's output when the key changes, so the push for
 * any change made before the check ran arrives before the check's reply, and ioredis
 * dispatches both in order, synchronously, before the reply's promise continues. Scripts'
 * own reads are not tracked by Redis 7.0 (nor under OPTIN without CACHING), which is why
 * the keys are read by a plain EXISTS. Anything that ends tracking (the connection closing
 * or reconnecting, a null invalidation from a flush) forgets every tracked page; a page
 * whose tracked read was sent before that is not registered.
 *
 * ioredis (6.0.0) decodes RESP3 pushes but drops those it does not know; `invalidate`
 * pushes are handed to the tracker by a wrapper of its DataHandler's `returnPush`
 * (trackInvalidations), the one place it sees them.
 */
import type { Redis } from "ioredis";
import DataHandler from "ioredis/built/DataHandler.js";

/** A page whose keys are tracked: valid until one of them is invalidated. */
export interface Tracked {
  valid: boolean;
  readonly keys: readonly string[];
}

/** What a tracked read remembers when it is sent (PageTracker.begin). */
export interface Ticket {
  readonly epoch: number;
  readonly seq: number;
}

const invalidateListeners = new WeakMap<object, (keys: Buffer[] | null) => void>();

type Handler = { redis: object; returnPush(reply: unknown): void };

/** Routes `invalidate` pushes of connections with a listener (set once per process). */
function patchReturnPush(): void {
  const proto = (DataHandler as unknown as { default?: { prototype: Handler }; prototype: Handler }).default?.prototype ?? (DataHandler as unknown as { prototype: Handler }).prototype;
  if ((proto as { oasisTracking?: boolean }).oasisTracking) return;
  const original = proto.returnPush;
  proto.returnPush = function (this: Handler, reply: unknown) {
    if (Array.isArray(reply) && reply.length >= 2 && String(reply[0]) === "invalidate") {
      const listener = invalidateListeners.get(this.redis);
      if (listener) {
        const keys = reply[1];
        listener(Array.isArray(keys) ? (keys as Buffer[]) : null);
        return;
      }
    }
    original.call(this, reply);
  };
  (proto as { oasisTracking?: boolean }).oasisTracking = true;
}

/** Invalidations remembered at most for registrations in flight; past it they are forgotten and older reads not registered. */
const maxRemembered = 200_000;

export class PageTracker {
  /** Bumped whenever tracking may have stopped (close, reconnect, flush): tickets of older epochs never register. */
  private epoch = 0;
  /** Invalidated keys received so far (each key of a push counts one). */
  private seq = 0;
  /** The seq at which each key was last invalidated, for registrations in flight. */
  private last = new Map<string, number>();
  /** Tickets sent before this seq are not registered (`last` was cleared then). */
  private floor = 0;
  private readonly byKey = new Map<string, Set<Tracked>>();
  /**
   * Keys Redis tracks for this connection now, as far as invalidations say
   * (`watchedKeys`): each was read with `CACHING YES` (noteRead) and no invalidation of it
   * was seen since that read was sent. Empty unless `watchedKeys` is on.
   */
  private readonly watched = new Set<string>();
  private on = false;
  /** Pages registered, pages invalidated, registrations refused (a key changed meanwhile). */
  registered = 0;
  invalidated = 0;
  refused = 0;

  /**
   * Turns tracking on for `redis` (the page path's connection, RESP3, no key prefix) now
   * and after every reconnect; until Redis confirmed it, `ready` is false.
   */
  constructor(
    private readonly redis: Redis,
    /**
     * Remember which keys Redis tracks for the connection (OASIS_EDGE_PAGE_WATCHED_KEYS),
     * so a tracked read reads with `EXISTS` only the keys it does not track yet
     * (`unwatched`). Off: every key of the page, every time.
     */
    readonly watchedKeys = false,
  ) {
    patchReturnPush();
    invalidateListeners.set(redis, (keys) => this.invalidate(keys));
    const forget = () => this.reset();
    redis.on("close", forget);
    redis.on("end", forget);
    redis.on("reconnecting", forget);
    redis.on("ready", () => void this.enable());
    if (redis.status === "ready") void this.enable();
  }

  /** Bumped each time tracking may have stopped (close, reconnect, flush): what was tracked before is forgotten. */
  get generation(): number {
    return this.epoch;
  }

  /** Whether tracking is on for the connection now (tracked reads may be sent). */
  get ready(): boolean {
    return this.on;
  }

  private async enable(): Promise<void> {
    this.reset();
    const epoch = this.epoch;
    try {
      // Pushes need RESP3 on this connection (in RESP2 without a redirect Redis tracks
      // but cannot tell): a connection that fell back to RESP2 is never tracked.
      const info = String(await this.redis.call("CLIENT", "INFO"));
      if (!/\bresp=3\b/.test(info) || epoch !== this.epoch) return;
      await this.redis.call("CLIENT", "TRACKING", "ON", "OPTIN");
      if (epoch === this.epoch) this.on = true;
    } catch {
      // A Redis without tracking (or RESP2): pages are read in full, as without the tracker.
    }
  }

  /**
   * Called with the keys of each `invalidate` push, and with null when everything tracked
   * is forgotten (a flush, a close, a reconnect): held.ts drops what it held.
   */
  onForget?: (keys: readonly string[] | null) => void;

  /**
   * Whether `key` may have changed since `ticket` was taken (an invalidation of it was
   * seen after, or tracking stopped or forgot since): a value read with tracking on by a
   * command sent at `ticket` is then not to be held.
   */
  changedSince(ticket: Ticket, key: string): boolean {
    return !this.on || ticket.epoch !== this.epoch || ticket.seq < this.floor || (this.last.get(key) ?? 0) > ticket.seq;
  }

  /**
   * Keys just read with `CACHING YES` by a command sent at `ticket` (a tracked read's
   * `EXISTS`, held.ts's `MGET`): Redis tracks each for this connection from that read on
   * until it sends the key's invalidation. Remembered (`watchedKeys`) unless an
   * invalidation of the key was seen since the ticket (it may be older or newer than the
   * read: not known, so not remembered).
   */
  noteRead(ticket: Ticket, keys: readonly string[]): void {
    if (!this.watchedKeys) return;
    // Past the bound everything is forgotten: a key not remembered is only read again.
    if (this.watched.size + keys.length > maxRemembered) this.watched.clear();
    for (const k of keys) if (!this.changedSince(ticket, k)) this.watched.add(k);
  }

  /**
   * Of `keys`, those a tracked read must read with `CACHING YES` for Redis to track them:
   * all of them without `watchedKeys`; with it, those not known tracked. A key known
   * tracked needs no read: Redis tracks it from an earlier read and sends its
   * invalidation when it changes, which `register` sees like any other (a push for a
   * change made before the page's call arrives before the call's reply).
   */
  unwatched(keys: readonly string[]): readonly string[] {
    if (!this.watchedKeys || this.watched.size === 0) return keys;
    return keys.filter((k) => !this.watched.has(k));
  }

  /** Keys known tracked for this connection (`watchedKeys`). */
  get watchedSize(): number {
    return this.watched.size;
  }

  /** Forgets every tracked page: tracking may have stopped. */
  private reset(): void {
    this.onForget?.(null);
    this.on = false;
    this.watched.clear();
    this.epoch++;
    for (const set of this.byKey.values()) for (const t of set) t.valid = false;
    this.byKey.clear();
    this.last.clear();
    this.floor = this.seq;
  }

  /** An `invalidate` push: `keys` changed (null: all of them, a flush). */
  private invalidate(keys: Buffer[] | null): void {
    if (keys === null) {
      this.seq++;
      this.reset();
      return;
    }
    const names: string[] = [];
    for (const k of keys) {
      const key = k.toString("latin1");
      names.push(key);
      this.seq++;
      this.last.set(key, this.seq);
      this.watched.delete(key);
      const set = this.byKey.get(key);
      if (set) for (const t of set) this.drop(t);
    }
    this.onForget?.(names);
    if (this.last.size > maxRemembered) {
      this.last.clear();
      this.floor = this.seq;
    }
  }

  /** Marks `t` invalid and takes it out of the index. */
  private drop(t: Tracked): void {
    if (!t.valid) return;
    t.valid = false;
    this.invalidated++;
    for (const k of t.keys) {
      const set = this.byKey.get(k);
      if (!set) continue;
      set.delete(t);
      if (set.size === 0) this.byKey.delete(k);
    }
  }

  /** Call right before sending a tracked read (trackingCommands then the page's call, one pipeline). */
  begin(): Ticket {
    return { epoch: this.epoch, seq: this.seq };
  }

  /**
   * A page read with `ticket` whose reply was the one kept for `keys`: tracked from now
   * on, or undefined when tracking stopped since or one of `keys` was invalidated after
   * the ticket (Redis no longer tracks it for this connection).
   */
  register(ticket: Ticket, keys: readonly string[]): Tracked | undefined {
    if (!this.on || ticket.epoch !== this.epoch || ticket.seq < this.floor) return undefined;
    for (const k of keys) {
      if ((this.last.get(k) ?? 0) > ticket.seq) {
        this.refused++;
        return undefined;
      }
    }
    const t: Tracked = { valid: true, keys };
    for (const k of keys) {
      let set = this.byKey.get(k);
      if (!set) this.byKey.set(k, (set = new Set()));
      set.add(t);
    }
    this.registered++;
    return t;
  }

  /** `t` is no longer kept (its page was replaced or dropped): out of the index. */
  release(t: Tracked | undefined): void {
    if (!t?.valid) return;
    t.valid = false;
    for (const k of t.keys) {
      const set = this.byKey.get(k);
      if (!set) continue;
      set.delete(t);
      if (set.size === 0) this.byKey.delete(k);
    }
  }

  /** Keys the tracker watches now (for tests and metrics). */
  get keysWatched(): number {
    return this.byKey.size;
  }
}
