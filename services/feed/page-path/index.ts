/**
 * The page path: a home or user timeline page served straight from the feed's Redis by
 * whoever holds a connection to it (the edge, edge/page-path.ts), in one Redis round trip
 * (pieces.ts) and the feed's own rules and paging (domain/rules.ts, domain/paging.ts), so
 * the page is the one GetHomeFeed / GetUserFeed would return. This module is the one of
 * the feed the edge may import (scripts/boundaries.ts EDGE_IMPORTS).
 *
 * It serves only what it can serve exactly; anything else is a miss, and the caller asks
 * the feed: an anonymous viewer; the feed's read model off; a home timeline not built or
 * whose reader was away (the feed rebuilds it); the viewer follows an author merged at
 * read time (celebrity), or their relationship is unknown (unless the caller can ask
 * graph: then it is asked, stored and the page served); any post, referred post,
 * profile, counter, viewer state or relationship missing from Redis (the feed loads and
 * stores it); a relationship with a pending follow request (no event ends one that is
 * rejected, so only graph knows); a page that needs more ids than the window read; a
 * page token or size the feed would refuse (it says why).
 *
 * Relationships are the read model's `rm:rel`, kept by graph events: a mute or block
 * reaches the page path when the feed has consumed its event (the feed's own read asks
 * graph each time), except for the user who made it through the edge, whose pairs the
 * edge drops at once (`relationshipChanged`): their next page asks graph again.
 */
import { create, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import type { Redis } from "ioredis";
import { VersionedCache } from "#kit/cache.ts";
import { Pipeline } from "#kit/redis.ts";
import { idTimeMs } from "#kit/ids.ts";
import type { Caller } from "#kit/call-context.ts";
import { GetHomeFeedResponseSchema, GetUserFeedResponseSchema, type GetHomeFeedRequest, type GetHomeFeedResponse, type GetUserFeedRequest, type GetUserFeedResponse } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import type { PostView } from "#gen/oasis/feed/v1/feed_pb.ts";
import { RelationshipSchema, type Relationship } from "#gen/oasis/graph/v1/graph_pb.ts";
import { ProfileSchema, type Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import { PostCountsSchema, ViewerStateSchema, type PostCounts, type ViewerState } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import type { Post } from "#gen/oasis/post/v1/post_pb.ts";
import { collectPage, cursorOf, nextToken, pageLimit, roundWant, type TimelineKind } from "../domain/paging.ts";
import { present } from "../domain/rules.ts";
import { countsTtl, decodeRelationship, pairId, pairKey, storedCounts, storedRelationships, storedStates, decodeStoredPost, pageKeys, parsePieces, readRawPieces, relSetKey, relSetMax, relSetSentinel, relSetVersionKey, relTtl, amendRelationshipSets, amendFencedRelationshipSets, dropRelationshipSets, dropRelationshipSetsIn, fenceRelationshipSetsIn, withRelSetScripts, withPageScript, type PageGate, type Pieces } from "./pieces.ts";

export type { PageGate } from "./pieces.ts";
export { dropRelationshipSets, relates } from "./pieces.ts";
import { PageReuse } from "./reuse.ts";
import { PageTracker } from "./tracking.ts";
import { HeldPieces } from "./held.ts";
import { KeyNames } from "./key-names.ts";
import { ItemCache, itemKey, pageBytes, pageJson, pageJsonBytes, renderItem, type RenderedItem, type SerialOf } from "./items.ts";

export { PageReuse } from "./reuse.ts";
export { ItemCache } from "./items.ts";

/** Why a page was not served here (the `reason` label of the edge's miss counter). */
export type MissReason =
  | "anonymous" | "request" | "off" | "unbuilt" | "away" | "celebrity" | "window"
  | "post" | "legacy" | "author" | "relationship" | "requested" | "counts" | "state";

export type PageAnswer<R> = { readonly served: true; readonly response: R; readonly filled: boolean } | { readonly served: false; readonly reason: MissReason | string };

/**
 * Asks graph how the viewer relates to `ids` (BatchGetRelationships as the viewer), for
 * the relationships the read model does not hold yet; the page path stores them
 * (`rm:rel`, unless an event bumped a key meanwhile) and serves the page.
 */
export type RelationshipSource = (ids: bigint[]) => Promise<Relationship[]>;

/**
 * Asks graph for every non-empty relationship of the viewer (ListRelationships as the
 * viewer, one page of up to `max`): `complete` when that page was the last, so the set
 * answers for every user (pieces.ts relSetKey).
 */
export type RelationshipSetSource = (max: number) => Promise<{ relationships: Relationship[]; complete: boolean }>;

/** Asks interaction for the counters of `ids` (BatchGetCounts: the same for every caller). */
export type CountsSource = (ids: bigint[]) => Promise<PostCounts[]>;

/** Asks interaction what the viewer did to `ids` (BatchGetViewerState as the viewer). */
export type StatesSource = (ids: bigint[]) => Promise<ViewerState[]>;

/**
 * How the page path may ask graph for relationships the read model lacks, and
 * interaction for counters and viewer state it lacks (each stored as the feed's read
 * model stores it, then the page read again: result "filled").
 */
export interface RelationshipAsk {
  /** The pairs one by one (BatchGetRelationships), stored as `rm:rel`. */
  readonly pairs: RelationshipSource;
  /** The viewer's whole set (ListRelationships), stored as `rm:rels` (pieces.ts), tried first. */
  readonly set?: RelationshipSetSource;
  /** Counters missing from `rm:counts` (absent: a "counts" miss, the feed loads them). */
  readonly counts?: CountsSource;
  /** Viewer state missing from `rm:state` (absent: a "state" miss). */
  readonly states?: StatesSource;
}

/** Live posts of the hydrated window whose counters the read model lacks (none when the feed runs without interaction). */
function missingCounts(p: Ready): bigint[] {
  if (!p.interaction) return [];
  const out: bigint[] = [];
  p.items.forEach((item, i) => {
    if (item.flags !== "" && item.counts.length === 0) out.push(BigInt(p.ids[i]!));
  });
  return out;
}

/** Live posts of the hydrated window not seen whole whose viewer state the read model lacks. */
function missingStates(p: Ready): bigint[] {
  if (!p.interaction) return [];
  const out: bigint[] = [];
  p.items.forEach((item, i) => {
    if (item.flags !== "" && item.flags[0] !== "1" && item.state.length === 0) out.push(BigInt(p.ids[i]!));
  });
  return out;
}

type SetRedis = Redis & { oasisFeedRelSetStore(set: string, version: string, ...args: Array<string | Buffer | number>): Promise<number> };

/** The page path's options beyond its connection (FeedPagePath). */
export interface PagePathOptions {
  /** Pages kept by the Lua reply they came from, for `homeBytes` and `userBytes` (reuse.ts; absent: every page computed). */
  readonly reuse?: PageReuse;
  /**
   * Answer relationships missing from `rm:rel` from the viewer's complete set and, when
   * the viewer has none, load it (`ask.set`) instead of asking for the pairs (OASIS_EDGE_REL_SETS).
   */
  readonly sets?: boolean;
  /** Relationships a set holds at most (default relSetMax); a viewer with more keeps pair fills. */
  readonly setMax?: number;
  /**
   * `relationshipChanged` sends its fence or drops and the pairs' invalidation in one
   * pipeline, one round trip, instead of one after another (OASIS_EDGE_REL_WRITE_ONE_TRIP;
   * default true, design note 61).
   */
  readonly oneTripWrites?: boolean;
  /**
   * Items kept rendered by the bytes of their pieces (items.ts), for `homeBytes` and
   * `userBytes`: a page is assembled from them, with its JSON (absent: every item built
   * and the page encoded whole).
   */
  readonly items?: ItemCache;
  /**
   * Track kept pages' keys on the connection (tracking.ts; needs `reuse` and a RESP3
   * connection): a kept page nothing of which changed is answered after the checks alone,
   * without reading its pieces (OASIS_EDGE_PAGE_TRACKING).
   */
  readonly tracking?: boolean;
  /**
   * Hydrate `limit + tightMargin` posts instead of the feed's first round (`roundWant`:
   * 1.5 x limit + 2, 17 for 10): the page is the first `limit` visible posts and whether
   * any id follows the last, so when that many are visible among them the page is the
   * same; when not (posts hidden by the rules) the page is read again with the feed's
   * window, and that request keeps the wide window from then on (OASIS_EDGE_PAGE_TIGHT_WINDOW).
   */
  readonly tightWindow?: boolean;
  /**
   * Pieces the same for every viewer (posts, counters, profiles) held at most, tracked on
   * the connection, and pages read lean, without them (held.ts; OASIS_EDGE_PAGE_HELD_ENTRIES;
   * absent or 0: every read carries them; the edge's default 50,000).
   */
  readonly held?: number;
  /**
   * Remember which keys Redis tracks for the connection, so a tracked read reads with
   * `EXISTS` only the page's keys not tracked yet (tracking.ts watchedKeys;
   * OASIS_EDGE_PAGE_WATCHED_KEYS). Under the DSB mix a changed home page shares most of its
   * keys with the page before it and with other pages (held posts, counters, profiles).
   */
  readonly watchedKeys?: boolean;
}

/** Posts hydrated beyond the page size with `tightWindow` (room for a hidden post or two without a second read). */
export const tightMargin = 2;

class Miss extends Error {
  constructor(readonly reason: MissReason) {
    super(reason);
  }
}

type Ready = Extract<Pieces, { ok: true }>;

/** A page as the timeline's items and token (paging.ts), or its encoded response when `encode` was given. */
type Page = { readonly served: true; readonly filled: boolean; readonly response?: { items: PostView[]; nextPageToken: string }; readonly bytes?: Uint8Array; readonly json?: string | Uint8Array };

/** An encoded page with, when it was assembled from rendered items (items.ts), its proto3 JSON. */
export interface EncodedPage {
  readonly bytes: Uint8Array;
  /** Text, or UTF-8 bytes when the items keep their JSON as bytes (ItemCache jsonBytes). */
  readonly json?: string | Uint8Array;
}

export class FeedPagePath {
  private readonly redis;
  private readonly rels: VersionedCache;
  private readonly counters: VersionedCache;
  private readonly states: VersionedCache;
  readonly reuse?: PageReuse;
  readonly items?: ItemCache;
  readonly tracker?: PageTracker;
  /** Kept pages are tracked (`tracking` with `reuse`); the tracker may also serve `held` alone. */
  private readonly trackPages: boolean;
  readonly held?: HeldPieces;
  private readonly sets: boolean;
  private readonly setMax: number;
  private readonly tightWindow: boolean;
  private readonly oneTripWrites: boolean;
  /** The names of the keys pages read, kept (key-names.ts). */
  private readonly names: KeyNames;
  /** Held values' serials for item keys (held.ts serialOf; none when nothing is held). */
  private readonly serialOf: SerialOf = () => undefined;

  /**
   * `redis`: a connection to the feed's Redis without a key prefix; `prefix`: the feed's
   * (`[<ns>:]oasis:feed:`); `opts`: PagePathOptions.
   */
  constructor(
    redis: Redis,
    private readonly prefix: string,
    opts: PagePathOptions = {},
  ) {
    this.redis = withPageScript(redis);
    this.rels = new VersionedCache(redis, `${prefix}rm:rel`, relTtl);
    this.counters = new VersionedCache(redis, `${prefix}rm:counts`, countsTtl);
    this.states = new VersionedCache(redis, `${prefix}rm:state`, countsTtl);
    this.reuse = opts.reuse;
    this.items = opts.items;
    this.trackPages = !!(opts.tracking && opts.reuse);
    if (this.trackPages || (opts.held ?? 0) > 0) this.tracker = new PageTracker(redis, opts.watchedKeys ?? false);
    if (this.trackPages) opts.reuse!.release = (t) => this.tracker!.release(t);
    this.names = new KeyNames(prefix);
    if ((opts.held ?? 0) > 0) this.held = new HeldPieces(redis, this.tracker!, opts.held!, this.names);
    if (this.held) {
      const held = this.held;
      this.serialOf = (b) => held.serialOf(b);
    }
    this.sets = opts.sets ?? false;
    this.tightWindow = opts.tightWindow ?? false;
    this.oneTripWrites = opts.oneTripWrites ?? true;
    this.setMax = Math.min(opts.setMax ?? relSetMax, relSetMax);
    withRelSetScripts(redis);
  }

  /**
   * `viewer` changed how they relate to `user` (follow, block, mute, a follow request
   * answered, or their undoing) and graph committed it. Without `ask`: both users'
   * relationship sets are dropped and fenced (a read that loaded them before cannot store
   * them). With `ask` (graph's BatchGetRelationships as `viewer`, OASIS_EDGE_REL_SET_AMEND):
   * the viewer's own set is amended in place with note 45's fence instead (pieces.ts
   * amendRelationshipSets: fenced, the pair asked after the commit, written only if no
   * other change moved the version, else dropped; dropped too if graph does not answer),
   * so the viewer's next page is still answered from it, no ListRelationships; `user`'s
   * set is dropped (the edge cannot ask graph as `user`; the feed's graph consumer amends
   * both when it handles the event). Both cached pairs (`rm:rel`) are dropped either way,
   * so the set (or graph) answers them next. Returns whether the viewer's set was amended.
   */
  async relationshipChanged(viewer: bigint, user: bigint, ask?: RelationshipSource): Promise<boolean> {
    if (this.oneTripWrites) return this.relationshipChangedOneTrip(viewer, user, ask);
    let amended = false;
    if (ask) {
      try {
        amended = (await amendRelationshipSets(this.redis, this.prefix, [[viewer, user]], (_, ids) => ask(ids))) === 1;
        await dropRelationshipSets(this.redis, this.prefix, [user]);
      } catch {
        await dropRelationshipSets(this.redis, this.prefix, [viewer, user]);
      }
    } else {
      await dropRelationshipSets(this.redis, this.prefix, [viewer, user]);
    }
    await this.rels.invalidate([pairKey(viewer, user), pairKey(user, viewer)]);
    return amended;
  }

  /**
   * `relationshipChanged` with its independent commands in one pipeline: the viewer's set
   * fenced (with `ask`) or dropped, `user`'s set dropped, both cached pairs invalidated;
   * then, only when the viewer's set is complete, graph asked and the amend written, as
   * before. The same commands on the same keys in the same order per key, one round trip
   * where there were three. Redis errors: the viewer's set dropped, as before.
   */
  private async relationshipChangedOneTrip(viewer: bigint, user: bigint, ask?: RelationshipSource): Promise<boolean> {
    const pipe = new Pipeline(this.redis);
    const pairs = [[viewer, user]] as const;
    if (ask) {
      fenceRelationshipSetsIn(pipe.batch, this.prefix, pairs);
      dropRelationshipSetsIn(pipe.batch, this.prefix, [user]);
    } else {
      dropRelationshipSetsIn(pipe.batch, this.prefix, [viewer, user]);
    }
    this.rels.invalidateIn(pipe, [pairKey(viewer, user), pairKey(user, viewer)]);
    const replies = (await pipe.batch.exec()) ?? [];
    if (!ask) return false;
    try {
      const [err, versions] = replies[0] ?? [new Error("no reply")];
      if (err) throw err;
      return (await amendFencedRelationshipSets(this.redis, this.prefix, pairs, versions as string[], (_, ids) => ask(ids))) === 1;
    } catch {
      await dropRelationshipSets(this.redis, this.prefix, [viewer]);
      return false;
    }
  }

  /**
   * Loads the viewer's relationship set from graph (`source`, one call) and stores it,
   * unless a graph change dropped the set meanwhile (its version moved) or it is already
   * there. True when a complete set was stored: the page read again finds every pair.
   * A viewer with more than `setMax` relationships gets a "too large" set (sentinel "0"),
   * which sends their reads to pair fills until it expires.
   */
  private async loadSet(viewer: bigint, source: RelationshipSetSource): Promise<boolean> {
    const [set, version] = [`${this.prefix}${relSetKey(viewer)}`, `${this.prefix}${relSetVersionKey(viewer)}`];
    const seen = await this.redis.pipeline().hget(set, relSetSentinel).get(version).exec();
    const [state, v] = [seen?.[0]?.[1] as string | null, seen?.[1]?.[1] as string | null];
    if (state !== null && state !== undefined) return false;
    const got = await source(this.setMax);
    const complete = got.complete && got.relationships.length <= this.setMax;
    const fields = complete ? got.relationships.flatMap((r) => [String(r.userId), Buffer.from(toBinary(RelationshipSchema, r))]) : [];
    const stored = await (this.redis as unknown as SetRedis).oasisFeedRelSetStore(set, version, v ?? "", relTtl, complete ? "1" : "0", ...fields);
    return complete && stored === 1;
  }

  /**
   * GetHomeFeed for `viewer` (null: anonymous, a miss). With `ask`, relationships the
   * read model lacks are asked of graph and stored, then the page is served (`filled`).
   */
  async home(req: GetHomeFeedRequest, viewer: bigint | null, ask?: RelationshipAsk, gate?: PageGate): Promise<PageAnswer<GetHomeFeedResponse>> {
    if (viewer === null) return { served: false, reason: "anonymous" };
    const page = await this.page("ht", viewer, viewer, req.pageSize, req.pageToken, ask, undefined, gate);
    return page.served ? { served: true, filled: page.filled, response: create(GetHomeFeedResponseSchema, page.response!) } : page;
  }

  /** GetUserFeed of `req.userId` for `viewer` (null: anonymous, a miss); `ask` as for `home`. */
  async user(req: GetUserFeedRequest, viewer: bigint | null, ask?: RelationshipAsk, gate?: PageGate): Promise<PageAnswer<GetUserFeedResponse>> {
    if (viewer === null) return { served: false, reason: "anonymous" };
    const page = await this.page("ut", req.userId, viewer, req.pageSize, req.pageToken, ask, undefined, gate);
    return page.served ? { served: true, filled: page.filled, response: create(GetUserFeedResponseSchema, page.response!) } : page;
  }

  /**
   * `home`, answered as the encoded GetHomeFeedResponse: the same bytes `home`'s response
   * encodes to, kept and answered again while the Lua reply for the same request is the
   * same (`reuse`).
   */
  async homeBytes(req: GetHomeFeedRequest, viewer: bigint | null, ask?: RelationshipAsk, gate?: PageGate): Promise<PageAnswer<Uint8Array>> {
    const page = await this.homeEncoded(req, viewer, ask, gate);
    return page.served ? { ...page, response: page.response.bytes } : page;
  }

  /** `homeBytes` with the page's JSON when it was assembled from rendered items (`items`). */
  async homeEncoded(req: GetHomeFeedRequest, viewer: bigint | null, ask?: RelationshipAsk, gate?: PageGate): Promise<PageAnswer<EncodedPage>> {
    if (viewer === null) return { served: false, reason: "anonymous" };
    const page = await this.page("ht", viewer, viewer, req.pageSize, req.pageToken, ask, GetHomeFeedResponseSchema, gate);
    return page.served ? { served: true, filled: page.filled, response: { bytes: page.bytes!, json: page.json } } : page;
  }

  /** `user`, answered as the encoded GetUserFeedResponse (as `homeBytes`). */
  async userBytes(req: GetUserFeedRequest, viewer: bigint | null, ask?: RelationshipAsk, gate?: PageGate): Promise<PageAnswer<Uint8Array>> {
    const page = await this.userEncoded(req, viewer, ask, gate);
    return page.served ? { ...page, response: page.response.bytes } : page;
  }

  /** `userBytes` with the page's JSON when it was assembled from rendered items (`items`). */
  async userEncoded(req: GetUserFeedRequest, viewer: bigint | null, ask?: RelationshipAsk, gate?: PageGate): Promise<PageAnswer<EncodedPage>> {
    if (viewer === null) return { served: false, reason: "anonymous" };
    const page = await this.page("ut", req.userId, viewer, req.pageSize, req.pageToken, ask, GetUserFeedResponseSchema, gate);
    return page.served ? { served: true, filled: page.filled, response: { bytes: page.bytes!, json: page.json } } : page;
  }

  /** Counters of `ids` from `source` (interaction), stored as the read model's `rm:counts` unless an event bumped a key meanwhile. */
  private async fillCounts(ids: bigint[], source: CountsSource): Promise<void> {
    await this.counters.getMany(ids.map(String), async (missing) => storedCounts(await source(missing.map(BigInt))));
  }

  /** What `viewer` did to `ids` from `source` (interaction, as the viewer), stored as `rm:state:<viewer>:<id>` unless an event bumped a key meanwhile. */
  private async fillStates(viewer: bigint, ids: bigint[], source: StatesSource): Promise<void> {
    await this.states.getMany(ids.map((id) => pairKey(viewer, id)), async (missing) => storedStates(viewer, await source(missing.map(pairId))));
  }

  /** Stores what `ask` says of `ids` as the viewer's relationships, unless an event bumped a key meanwhile. */
  private async fill(viewer: bigint, ids: bigint[], ask: RelationshipSource): Promise<void> {
    await this.rels.refresh(ids.map((id) => pairKey(viewer, id)), async () => storedRelationships(viewer, await ask(ids)));
  }

  /** The page read again with the feed's window (a tight window showed fewer than a page; the gate was charged already). */
  private async widePage(kind: TimelineKind, owner: bigint, viewer: bigint, size: number, token: string, ask: RelationshipAsk | undefined, encode: DescMessage | undefined) {
    this.wideReads++;
    return this.page(kind, owner, viewer, size, token, ask, encode, undefined, true);
  }

  /** Pages read again with the wide window (tightWindow). */
  wideReads = 0;

  /**
   * One page; with `encode`, answered as that response message's bytes (kept in `reuse`);
   * with `gate`, the gate's check runs first in the same Lua call (reason "gate" when it
   * says no; the check is not repeated for a read again after filling relationships).
   * With `tracking`, a kept page known unchanged (tracking.ts) is answered after the
   * checks alone; a page changed since is read again in the same call's stead (two round
   * trips, the gate charged once).
   */
  private async page(kind: TimelineKind, owner: bigint, viewer: bigint, size: number, token: string, ask?: RelationshipAsk, encode?: DescMessage, gate?: PageGate, wide = false): Promise<Page | Extract<PageAnswer<never>, { served: false }>> {
    let limit: number;
    let before: bigint | undefined;
    try {
      limit = pageLimit(size);
      before = cursorOf(kind, owner, token);
    } catch {
      return { served: false, reason: "request" };
    }
    const key = encode && this.reuse ? `${kind}:${owner}:${viewer}:${limit}:${token}` : undefined;
    // Tracked pages (tracking.ts): a kept page whose keys are tracked and unchanged is
    // answered after the checks alone; a kept page not tracked yet has its keys read
    // with tracking on just before the call, and is tracked if the reply is the same.
    const tracker = key !== undefined && this.trackPages && this.tracker?.ready ? this.tracker : undefined;
    const peeked = key !== undefined ? this.reuse!.peek(key) : undefined;
    const held = tracker && peeked;
    // A tight window unless this request needed the wide one (tightWindow).
    const tight = this.tightWindow && !wide && !peeked?.wide;
    const window = tight ? Math.min(limit + tightMargin, roundWant(limit)) : roundWant(limit);
    const q = {
      prefix: this.prefix,
      kind,
      owner,
      viewer,
      before,
      beforeMs: before === undefined ? undefined : idTimeMs(before),
      window,
      nowMs: Date.now(),
      sets: this.sets,
    };
    if (held?.tracked?.valid) {
      const check = await readRawPieces(this.redis, q, gate, { check: true });
      if (!check.ok) return { served: false, reason: check.reason };
      // Every invalidation of a change made before the check came before its reply.
      if (check.same && held.tracked.valid) {
        this.reuse!.unchanged++;
        return { served: true, filled: false, bytes: held.page, json: held.json };
      }
      // Changed meanwhile: read it, without charging the gate twice.
      gate = undefined;
    }
    // The keys of a kept page are worked out when it is first read again (most pages of
    // user timelines never are).
    const trackable = held && !held.tracked?.valid ? held : undefined;
    if (trackable) trackable.keys ??= pageKeys(this.names, kind, owner, viewer, parsePieces(trackable.reply) as Ready);
    const ticket = trackable?.keys ? tracker!.begin() : undefined;
    // Only the keys Redis does not track for this connection yet (watchedKeys).
    const exists = ticket && tracker!.unwatched(trackable!.keys!);
    // Lean (held.ts): the pieces every viewer shares come from what is held, not the reply.
    const lean = this.held?.ready === true;
    const sent = lean ? this.held!.mark() : 0;
    let read = await readRawPieces(this.redis, q, gate, { track: exists, lean });
    if (ticket && exists!.length) tracker!.noteRead(ticket, exists!);
    if (!read.ok) return { served: false, reason: read.reason };
    if (!read.raw) throw new Error("page script answered a full read with same");
    let parts: Buffer[] | undefined;
    // A lean read's values put back (held.ts expandValues); read.raw stays the lean reply.
    let values: readonly Buffer[] | undefined;
    if (lean) {
      const got = this.held!.expandValues(read.raw, sent);
      const put = got instanceof Promise ? await got : got;
      if (put) [parts, values] = [put.parts, put.values];
      else {
        // A post changed between the lean read and the pieces read again: read it in full
        // (the gate was charged already).
        read = await readRawPieces(this.redis, q);
        if (!read.ok) return { served: false, reason: read.reason };
        if (!read.raw) throw new Error("page script answered a full read with same");
      }
    }
    // Same request, same reply: the page kept from last time (only served pages are kept,
    // so an equal reply has every piece, relationships included).
    const kept = key === undefined ? undefined : values ? this.reuse!.entryLean(key, read.raw, values) : this.reuse!.entry(key, read.raw);
    if (kept) {
      if (ticket && kept === held && !held.tracked?.valid) {
        tracker!.release(held.tracked);
        held.tracked = tracker!.register(ticket, held.keys!);
      }
      return { served: true, filled: false, bytes: kept.page, json: kept.json };
    }
    const pieces = parsePieces(read.raw, parts) as Ready;
    // Relationships not known yet (a user timeline of someone the viewer never read, an
    // author merged at read time): when the caller can ask, graph is asked once and the
    // page read again: for the viewer's whole set when sets are on and the viewer has
    // none yet (every later page of any user is then answered from it), else for the
    // pairs, stored as `rm:rel`.
    const unknown = [...pieces.relationships, ...pieces.celebs].filter(([, rel]) => rel.length === 0).map(([id]) => BigInt(id));
    // Counters and the viewer's state the read model lacks (expired after countsTtl, or
    // dropped by a like): asked of interaction and stored the way the feed's read model
    // stores them (VersionedCache: unless an event bumped the key meanwhile), alongside
    // the relationships, before the page is read again (`fillCounts`).
    const counts = ask?.counts ? missingCounts(pieces) : [];
    const states = ask?.states ? missingStates(pieces) : [];
    if ((counts.length || states.length) && ask) {
      const interaction = Promise.all([
        counts.length ? this.fillCounts(counts, ask.counts!) : undefined,
        states.length ? this.fillStates(viewer, states, ask.states!) : undefined,
      ]).catch(() => {}); // not stored: the page read again misses, and the feed answers
      const rest: RelationshipAsk = { pairs: ask.pairs, set: ask.set };
      if (!unknown.length) {
        await interaction;
        const again = await this.page(kind, owner, viewer, size, token, rest, encode, undefined, wide);
        return again.served ? { ...again, filled: true } : again;
      }
      ask = rest;
      await interaction;
    }
    if (unknown.length && ask) {
      if (this.sets && ask.set && (await this.loadSet(viewer, ask.set))) {
        const again = await this.page(kind, owner, viewer, size, token, { pairs: ask.pairs }, encode, undefined, wide);
        return again.served ? { ...again, filled: true } : again;
      }
      await this.fill(viewer, unknown, ask.pairs);
      const again = await this.page(kind, owner, viewer, size, token, undefined, encode, undefined, wide);
      return again.served ? { ...again, filled: true } : again;
    }
    try {
      for (const [id, rel] of pieces.celebs) {
        // An author merged at read time the viewer follows: the feed merges their timeline.
        if (rel.length === 0 || decodeRelationship(id, rel).following) throw new Miss("celebrity");
      }
      if (encode && this.items) {
        // Assembled from rendered items (items.ts): the same bytes, and the JSON with them.
        const src = renderedSource(pieces, viewer, window, this.items, this.serialOf);
        const got = tight ? tightPage(src, pieces, limit, window) : await collectPage(src, limit, before);
        if (!got) return this.widePage(kind, owner, viewer, size, token, ask, encode);
        const { items, more } = got;
        const next = nextToken(kind, owner, items.at(-1)?.postId, more);
        const bytes = pageBytes(items, next);
        const json = this.items.jsonBytes ? pageJsonBytes(items, next) : pageJson(items, next);
        if (key !== undefined) {
          if (values) this.reuse!.setLean(key, read.raw, values, bytes, json, wide || undefined);
          else this.reuse!.set(key, read.raw, bytes, json, wide || undefined);
        }
        return { served: true, filled: false, bytes, json };
      }
      const src = source(pieces, viewer, window);
      const got = tight ? tightPage(src, pieces, limit, window) : await collectPage(src, limit, before);
      if (!got) return this.widePage(kind, owner, viewer, size, token, ask, encode);
      const { items, more } = got;
      const response = { items, nextPageToken: nextToken(kind, owner, items.at(-1)?.post!.postId, more) };
      if (!encode) return { served: true, filled: false, response };
      const bytes = toBinary(encode, create(encode, response as never));
      if (key !== undefined) {
        if (values) this.reuse!.setLean(key, read.raw, values, bytes, undefined, wide || undefined);
        else this.reuse!.set(key, read.raw, bytes, undefined, wide || undefined);
      }
      return { served: true, filled: false, bytes };
    } catch (err) {
      if (err instanceof Miss) return { served: false, reason: err.reason };
      throw err;
    }
  }
}

/**
 * A page from a tight window (PagePathOptions.tightWindow): every hydrated post viewed in
 * timeline order (the rules decide each post alone), the first `limit` visible ones the
 * page, `more` when any id follows the last of them (the script reads one id past the
 * window): what collectPage returns for the same timeline. Undefined when fewer than
 * `limit` are visible and the timeline goes on past the window: the wide window decides.
 */
function tightPage<V>(src: { views(batch: readonly bigint[]): V[]; idOf(v: V): bigint }, p: Ready, limit: number, window: number): { items: V[]; more: boolean } | undefined {
  const ended = p.ids.length <= window;
  const views = src.views(p.ids.slice(0, p.items.length).map(BigInt));
  if (views.length < limit) return ended ? { items: views, more: false } : undefined;
  const items = views.slice(0, limit);
  const last = String(src.idOf(items[limit - 1]!));
  return { items, more: p.ids.indexOf(last) < p.ids.length - 1 };
}

/** The page's ids and views from the pieces; anything they lack is a Miss (exported for items.test.ts). */
export function source(p: Ready, viewer: bigint, window: number) {
  const ids = p.ids.map(BigInt);
  const index = new Map(p.ids.map((id, i) => [id, i]));
  // The script read one id past the window when the timeline goes on.
  const ended = ids.length <= window;
  const caller: Caller = { userId: viewer, service: false } as Caller;
  let last: Post | undefined;
  const posts = new Map<string, Post | null>();
  const post = (id: string, bytes: Buffer | undefined): Post | null => {
    let got = posts.get(id);
    if (got !== undefined) return got;
    if (!bytes || bytes.length === 0) throw new Miss("post");
    if (bytes[0] === 0) throw new Miss("legacy");
    got = decodeStoredPost(bytes) ?? null;
    posts.set(id, got);
    return got;
  };
  const profiles = new Map<bigint, Profile>();
  const rels = new Map<bigint, Relationship>();
  const author = (id: bigint) => {
    if (profiles.has(id)) return;
    const key = String(id);
    const profile = p.profiles.get(key);
    if (!profile?.length) throw new Miss("author");
    const rel = p.relationships.get(key);
    if (!rel?.length) throw new Miss("relationship");
    const r = decodeRelationship(key, rel);
    if (r.requested || r.requestedBy) throw new Miss("requested");
    profiles.set(id, fromBinary(ProfileSchema, profile));
    rels.set(id, r);
  };
  return {
    skeleton(below: bigint | undefined, n: number): bigint[] {
      const start = below === undefined ? 0 : ids.findIndex((id) => id < below);
      if (start < 0) {
        if (!ended) throw new Miss("window");
        return [];
      }
      if (start + n > ids.length && !ended) throw new Miss("window");
      return ids.slice(start, start + n);
    },
    views(batch: readonly bigint[]): PostView[] {
      const live: Post[] = [];
      const referred = new Map<bigint, Post>();
      const counts = new Map<bigint, PostCounts>();
      const states = new Map<bigint, ViewerState>();
      for (const id of batch) {
        const i = index.get(String(id))!;
        const item = p.items[i];
        if (!item) throw new Miss("window");
        const got = post(String(id), item.post);
        if (!got) continue;
        live.push(got);
        author(got.authorId);
        if (got.referPostId !== 0n) {
          const r = post(String(got.referPostId), p.referred.get(String(got.referPostId)));
          if (r) {
            referred.set(r.postId, r);
            author(r.authorId);
          }
        }
        if (!p.interaction) continue;
        if (!item.counts.length) throw new Miss("counts");
        counts.set(got.postId, fromBinary(PostCountsSchema, item.counts));
        if (item.flags[0] === "1") states.set(got.postId, create(ViewerStateSchema, { postId: got.postId, liked: item.flags[1] === "1", referred: item.flags[2] === "1" }));
        else if (item.state.length) states.set(got.postId, fromBinary(ViewerStateSchema, item.state));
        else throw new Miss("state");
      }
      const shown = present({ posts: live, referred, authors: profiles, relationships: rels, counts, states }, caller);
      last = shown.at(-1)?.post;
      return shown;
    },
    /** The post of the last view `views` returned (renderedSource's check). */
    lastPost: () => last,
    idOf: (v: PostView) => v.post!.postId,
  };
}

/** The author and refer-to ids in a live `rm:post` header (`\x02<author>,<refer>;`), or undefined. */
function storedHead(v: Uint8Array): { author: string; refer: string } | undefined {
  if (v.length === 0 || v[0] !== 2) return undefined;
  const semi = v.indexOf(0x3b);
  const comma = v.indexOf(0x2c);
  if (semi < 0 || comma < 0 || comma > semi) return undefined;
  const text = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return { author: text.toString("latin1", 1, comma), refer: text.toString("latin1", comma + 1, semi) };
}

const none: Uint8Array = new Uint8Array(0);

/**
 * `source`'s pages as rendered items (items.ts): each item looked up by the bytes of its
 * pieces and, when not kept, computed by `source` alone (the same rules, the same
 * misses) and kept. An item whose pieces cannot make a key (absent, a tombstone, a
 * legacy post) is computed every time.
 */
export function renderedSource(p: Ready, viewer: bigint, window: number, cache: ItemCache, serialOf: SerialOf = () => undefined) {
  const plain = source(p, viewer, window);
  const index = new Map(p.ids.map((id, i) => [id, i]));
  const me = String(viewer);
  const compute = (id: bigint): RenderedItem => renderItem(id, plain.views([id])[0], cache.jsonBytes);
  /** The key of the item at `i`, or undefined when it cannot be kept. */
  const keyOf = (i: number) => {
    const item = p.items[i];
    if (!item) return undefined;
    const head = storedHead(item.post);
    if (!head) return undefined;
    const [profile, rel] = [p.profiles.get(head.author), p.relationships.get(head.author)];
    if (!profile?.length || !rel?.length) return undefined;
    let referred = none, referProfile = none, referRel = none;
    let selfRefer = false;
    if (head.refer !== "0") {
      const r = p.referred.get(head.refer);
      if (!r?.length || r[0] === 0) return undefined;
      referred = r;
      const rHead = storedHead(r);
      if (rHead) {
        const [rp, rr] = [p.profiles.get(rHead.author), p.relationships.get(rHead.author)];
        if (!rp?.length || !rr?.length) return undefined;
        [referProfile, referRel, selfRefer] = [rp, rr, rHead.author === me];
      }
    }
    const pieces = {
      interaction: p.interaction,
      selfAuthor: head.author === me,
      selfReferAuthor: selfRefer,
      parts: [item.post, item.counts, Buffer.from(item.flags, "latin1"), item.state, profile, rel, referred, referProfile, referRel],
    };
    return { head, key: itemKey(pieces, serialOf) };
  };
  return {
    skeleton: plain.skeleton,
    views(batch: readonly bigint[]): RenderedItem[] {
      const out: RenderedItem[] = [];
      for (const id of batch) {
        const i = index.get(String(id))!;
        if (!p.items[i]) throw new Miss("window");
        const k = keyOf(i);
        let got: RenderedItem | undefined;
        if (!k) got = compute(id);
        else {
          got = cache.get(k.key, () => {
            const item = compute(id);
            // Kept only if the post's header says what its Protobuf says (it always does:
            // pieces.ts encodeStoredPost writes both), so the key named the right pieces.
            const post = item.bytes ? plain.lastPost() : decodeStoredPost(p.items[i]!.post);
            return post && String(post.authorId) === k.head.author && String(post.referPostId) === k.head.refer ? item : undefined;
          }) ?? compute(id);
        }
        if (got.bytes) out.push(got);
      }
      return out;
    },
    idOf: (v: RenderedItem) => v.postId,
  };
}
