/**
 * The page path (design note 28): GET home timeline and user timeline pages served by the
 * edge from the feed's Redis, one Redis round trip and no mesh hop, with the feed's own
 * rules and paging (services/feed/page-path/, the one feed module the edge may import:
 * scripts/boundaries.ts EDGE_IMPORTS). Whatever it cannot serve exactly (an unknown
 * relationship, a followed celebrity, an anonymous viewer, anything missing from the
 * read model) is a miss and the RPC goes to the feed as before, which also fills what
 * was missing. Relationships are the exception: the viewer's relationships to authors the
 * read model does not know yet are asked of graph here (BatchGetRelationships as the
 * viewer, one small hop), stored, and the page served (result "filled"); so are counters and
 * the viewer's state (interaction's BatchGetCounts and BatchGetViewerState as the viewer,
 * OASIS_EDGE_PAGE_FILL_COUNTS). The response is the message the feed would return, encoded by the same
 * code, so the app cannot tell the two apart. A relationship write through the edge
 * (follow, block, mute, ...) drops the pair's cached relationship, so the one who made it
 * sees it on their next page; others see it once the feed consumed graph's event.
 * With OASIS_EDGE_REL_SETS (default on), the first unknown relationship of a viewer loads the viewer's
 * whole relationship set instead (ListRelationships as the viewer, one call; pieces.ts
 * relSetKey), which answers for every user from then on, so a user timeline of someone
 * the viewer never read is a plain hit; a write through the edge amends the writer's set in
 * place (OASIS_EDGE_REL_SET_AMEND, default on: one BatchGetRelationships as the writer,
 * design note 50) and drops the other user's (the feed amends both when it consumes the event).
 *
 * OASIS_EDGE_PAGE_PATH [1] (0: always ask the feed), OASIS_EDGE_FEED_REDIS_URL [the shared
 * OASIS_REDIS_URL], OASIS_EDGE_PAGE_REUSE_ENTRIES, OASIS_EDGE_PAGE_ITEM_ENTRIES (pages and their JSON
 * assembled from items kept rendered, services/feed/page-path/items.ts; `edge_page_items_total{result}`), OASIS_EDGE_PAGE_LIMIT_IN_SCRIPT, OASIS_EDGE_PAGE_TRACKING (kept pages' keys tracked on the connection, services/feed/page-path/tracking.ts: an unchanged page is answered after the checks alone; `edge_page_tracking_total{event}`), OASIS_EDGE_PAGE_TIGHT_WINDOW (page size + 2 posts hydrated; `edge_page_path_wide_total` counts pages read again with the feed's window), OASIS_EDGE_PAGE_HELD_ENTRIES (posts, counters and profiles held and tracked, pages read lean, services/feed/page-path/held.ts; `edge_page_held_total{result}`), OASIS_EDGE_PAGE_WATCHED_KEYS, OASIS_EDGE_PAGE_SPLICE and OASIS_EDGE_PAGE_COALESCE (a changed page's tracked read, JSON and socket writes, design note 59), OASIS_EDGE_REL_SETS, OASIS_EDGE_REL_SET_MAX (edge/config.ts). Metrics: `edge_page_path_total{result}` (hit,
 * filled, miss, error), `edge_page_path_misses_total{reason}` and both by timeline,
 * `edge_page_path_timeline_total{timeline,result,reason}`.
 */
import type { Message } from "@bufbuild/protobuf";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "#kit/logger.ts";
import { createRedis, type Redis } from "#kit/redis.ts";
import { create } from "@bufbuild/protobuf";
import { FeedService, type GetHomeFeedRequest, type GetUserFeedRequest } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import { BatchGetRelationshipsRequestSchema, GraphService, ListRelationshipsRequestSchema, type BatchGetRelationshipsResponse, type ListRelationshipsResponse } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { BatchGetCountsRequestSchema, BatchGetViewerStateRequestSchema, InteractionService, type BatchGetCountsResponse, type BatchGetViewerStateResponse } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import { FeedPagePath, ItemCache, PageReuse, type PageGate, type RelationshipAsk } from "../services/feed/page-path/index.ts";
import type { MethodRegistry, RoutedMethod } from "./registry.ts";
import type { CallMeta, Upstreams } from "./upstream.ts";

const homePath = `/${FeedService.typeName}/${FeedService.method.getHomeFeed.name}`;
const userPath = `/${FeedService.typeName}/${FeedService.method.getUserFeed.name}`;

const relationshipWrites = new Set(["Follow", "Unfollow", "Block", "Unblock", "Mute", "Unmute", "ApproveFollowRequest", "RejectFollowRequest"].map((m) => `/oasis.graph.v1.GraphService/${m}`));

/**
 * A page the page path served: the response message, or its encoded bytes (pages kept
 * for reuse), with its proto3 JSON when it was assembled from rendered items.
 */
export type ServedPage = { readonly message: Message; readonly bytes?: undefined; readonly json?: undefined } | { readonly message?: undefined; readonly bytes: Uint8Array; readonly json?: string | Uint8Array };

export interface PagePath {
  /**
   * The response for `routed` if the page path served it; undefined: ask the upstream.
   * With `gate`, the gate's check (the edge's rate limit) runs in the same Lua call,
   * before the page is read, and `gate.verdict` holds its reply when it ran. Never throws.
   */
  serve(routed: RoutedMethod, request: Message, viewer: bigint | null, meta: CallMeta, gate?: PageGate): Promise<ServedPage | undefined>;
  /** Whether the rate limit of a signed-in read of `routed` goes in the page's Lua call (`limitInScript`). */
  gates(routed: RoutedMethod, viewer: bigint | null): boolean;
  /**
   * After an upstream answered `routed` successfully: a graph write by `viewer` drops the
   * pair's cached relationships and amends the viewer's relationship set in place
   * (`amendSets`: the pair asked of graph as the viewer with `meta`, one
   * BatchGetRelationships; else the set is dropped), so the viewer's next page reflects it
   * (read your own mute) and is still answered from the set. Never throws.
   */
  answered(routed: RoutedMethod, request: Message, viewer: bigint | null, meta: CallMeta): Promise<void>;
  close(): void;
}

/**
 * Builds the page path on its own connection to the feed's Redis (`prefix`: the feed's
 * key prefix). `reuseEntries` > 0 keeps that many pages with the Lua reply they came from
 * and answers the same reply to the same request with the kept bytes
 * (services/feed/page-path/reuse.ts); 0 computes every page. `itemEntries` > 0 keeps
 * that many timeline items rendered (PostView bytes and JSON) by the bytes of their
 * pieces and assembles pages, with their JSON, from them (items.ts); 0 builds every item.
 * `amendSets` (with `relSets`): a relationship write through the edge amends the writer's
 * set in place instead of dropping it (`answered`). `fillCounts`: counters and viewer state the read model lacks are asked of interaction
 * (BatchGetCounts, BatchGetViewerState as the viewer), stored, and the page served
 * ("filled") instead of passed to the feed (misses "counts", "state"). `autoPipelining`
 * (default false: each command written when made, OASIS_EDGE_PAGE_AUTOPIPELINE): ioredis's
 * auto-pipelining on the page path's connection. `coalesceWrites` (OASIS_EDGE_PAGE_COALESCE):
 * one event-loop turn's commands in one socket write (kit/redis.ts). `watchedKeys`:
 * PagePathOptions' (design note 59); `splice` (OASIS_EDGE_PAGE_SPLICE): items keep their
 * JSON as UTF-8 bytes and pages' JSON is spliced from them (items.ts ItemCache jsonBytes).
 */
export function createPagePath(opts: { url: string; prefix: string; log: Logger; registry: Registry; upstreams: Upstreams; routes: MethodRegistry; reuseEntries?: number; itemEntries?: number; tracking?: boolean; tightWindow?: boolean; held?: number; watchedKeys?: boolean; limitInScript?: boolean; relSets?: boolean; relSetMax?: number; amendSets?: boolean; relWriteOneTrip?: boolean; fillCounts?: boolean; autoPipelining?: boolean; coalesceWrites?: boolean; splice?: boolean }): PagePath {
  const results = new Counter({ name: "edge_page_path_total", help: "Timeline reads the page path tried, by result (hit: served from the feed's Redis; filled: served after asking graph for relationships, or interaction for counters and viewer state, the read model lacked; miss: asked the feed; error: asked the feed after a failure).", labelNames: ["result"], registers: [opts.registry] });
  const misses = new Counter({ name: "edge_page_path_misses_total", help: "Timeline reads the page path passed to the feed, by reason.", labelNames: ["reason"], registers: [opts.registry] });
  const byTimeline = new Counter({
    name: "edge_page_path_timeline_total",
    help: "Timeline reads the page path tried, by timeline (home, user), result (hit, filled, miss, error) and, for misses, reason (empty otherwise).",
    labelNames: ["timeline", "result", "reason"],
    registers: [opts.registry],
  });
  // Label children kept (a label lookup per read costs more than the increment).
  const timelineChildren = new Map<string, ReturnType<typeof byTimeline.labels>>();
  const countTimeline = (timeline: "home" | "user", result: string, reason = "") => {
    const k = `${timeline} ${result} ${reason}`;
    let child = timelineChildren.get(k);
    if (!child) timelineChildren.set(k, (child = byTimeline.labels(timeline, result, reason)));
    child.inc();
  };
  const redis: Redis = createRedis({ url: opts.url, keyPrefix: "", log: opts.log, autoPipelining: opts.autoPipelining ?? false, coalesceWrites: opts.coalesceWrites });
  const reuse = (opts.reuseEntries ?? 0) > 0 ? new PageReuse(opts.reuseEntries!) : undefined;
  const items = (opts.itemEntries ?? 0) > 0 ? new ItemCache(opts.itemEntries!, undefined, opts.splice ?? false) : undefined;
  const feed = new FeedPagePath(redis, opts.prefix, { reuse, items, tracking: opts.tracking, tightWindow: opts.tightWindow, held: opts.held, watchedKeys: opts.watchedKeys, sets: opts.relSets ?? false, setMax: opts.relSetMax, oneTripWrites: opts.relWriteOneTrip });
  countedFrom(opts.registry, "edge_page_items_total", "Timeline items the page path assembled pages from (OASIS_EDGE_PAGE_ITEM_ENTRIES, services/feed/page-path/items.ts), by result (hit: kept rendering; miss: built and encoded).", "result", () =>
    items && { hit: items.hits, miss: items.misses });
  countedFrom(opts.registry, "edge_page_path_reused_total", "Pages the page path served from the page kept for the same request, by result (hit: the same Lua reply; unchanged: its keys tracked and unchanged, not read, OASIS_EDGE_PAGE_TRACKING; miss: computed).", "result", () =>
    reuse && { hit: reuse.hits, unchanged: reuse.unchanged, miss: reuse.misses });
  countedFrom(opts.registry, "edge_page_tracking_total", "Kept pages the page path tracked (OASIS_EDGE_PAGE_TRACKING, services/feed/page-path/tracking.ts), by event (registered; invalidated: a key changed; refused: a key changed while it was being registered).", "event", () => {
    const t = feed.tracker;
    return t && { registered: t.registered, invalidated: t.invalidated, refused: t.refused };
  });
  new Counter({
    name: "edge_page_path_wide_total",
    help: "Pages the page path read again with the feed's window after a tight window (OASIS_EDGE_PAGE_TIGHT_WINDOW) showed fewer posts than the page holds.",
    registers: [opts.registry],
    collect() {
      this.reset();
      this.inc(feed.wideReads);
    },
  });
  countedFrom(opts.registry, "edge_page_held_total", "Pieces every viewer shares (posts, counters, profiles) the page path put back into lean reads (OASIS_EDGE_PAGE_HELD_ENTRIES, services/feed/page-path/held.ts), by result (hit: held; fetched: read again with tracking on; fallback: a lean read read again in full).", "result", () => {
    const h = feed.held;
    return h && { hit: h.hits, fetched: h.fetched, fallback: h.fallbacks };
  });
  const writes = new Counter({ name: "edge_page_path_rel_writes_total", help: "Relationship writes through the edge, by what became of the writer's relationship set (amended: the pair written in place, OASIS_EDGE_REL_SET_AMEND; dropped: dropped, or there was none to amend).", labelNames: ["result"], registers: [opts.registry] });
  const counted = { hit: results.labels("hit"), filled: results.labels("filled"), miss: results.labels("miss"), error: results.labels("error") };
  // Relationships the read model lacks: asked of graph as the viewer, as the feed would;
  // with sets on, the viewer's whole set first (ListRelationships, one call per viewer).
  const graphRoute = opts.routes.public(`/${GraphService.typeName}/${GraphService.method.batchGetRelationships.name}`);
  const listRoute = opts.routes.public(`/${GraphService.typeName}/${GraphService.method.listRelationships.name}`);
  // Counters and viewer state the read model lacks: asked of interaction as the viewer
  // (OASIS_EDGE_PAGE_FILL_COUNTS), as the feed would on its miss.
  const countsRoute = opts.fillCounts ? opts.routes.public(`/${InteractionService.typeName}/${InteractionService.method.batchGetCounts.name}`) : undefined;
  const statesRoute = opts.fillCounts ? opts.routes.public(`/${InteractionService.typeName}/${InteractionService.method.batchGetViewerState.name}`) : undefined;
  const asker = (meta: CallMeta): RelationshipAsk | undefined =>
    graphRoute && {
      pairs: async (ids) => ((await opts.upstreams.unary(graphRoute, create(BatchGetRelationshipsRequestSchema, { userIds: ids }), meta)) as BatchGetRelationshipsResponse).relationships,
      set: listRoute && (async (max) => {
        const page = (await opts.upstreams.unary(listRoute, create(ListRelationshipsRequestSchema, { pageSize: max }), meta)) as ListRelationshipsResponse;
        return { relationships: page.relationships, complete: page.nextPageToken === "" };
      }),
      counts: countsRoute && (async (ids) => ((await opts.upstreams.unary(countsRoute, create(BatchGetCountsRequestSchema, { postIds: ids }), meta)) as BatchGetCountsResponse).counts),
      states: statesRoute && (async (ids) => ((await opts.upstreams.unary(statesRoute, create(BatchGetViewerStateRequestSchema, { postIds: ids }), meta)) as BatchGetViewerStateResponse).states),
    };
  return {
    gates: (routed, viewer) => opts.limitInScript === true && viewer !== null && (routed.path === homePath || routed.path === userPath),
    async serve(routed, request, viewer, meta, gate) {
      if (routed.path !== homePath && routed.path !== userPath) return undefined;
      try {
        const ask = asker(meta);
        const home = routed.path === homePath;
        // With reuse or rendered items, the feed answers encoded bytes (and the JSON
        // assembled with them); without, a message.
        const answer = reuse || items
          ? home
            ? await feed.homeEncoded(request as unknown as GetHomeFeedRequest, viewer, ask, gate)
            : await feed.userEncoded(request as unknown as GetUserFeedRequest, viewer, ask, gate)
          : home
            ? await feed.home(request as unknown as GetHomeFeedRequest, viewer, ask, gate)
            : await feed.user(request as unknown as GetUserFeedRequest, viewer, ask, gate);
        if (answer.served) {
          counted[answer.filled ? "filled" : "hit"].inc();
          countTimeline(home ? "home" : "user", answer.filled ? "filled" : "hit");
          const r = answer.response;
          return "$typeName" in r ? { message: r } : { bytes: r.bytes, json: r.json };
        }
        // Refused by the rate limit (or a revoked session): not a miss, the caller answers.
        if (answer.reason === "gate") return undefined;
        counted.miss.inc();
        misses.inc({ reason: answer.reason });
        countTimeline(home ? "home" : "user", "miss", answer.reason);
      } catch (err) {
        counted.error.inc();
        countTimeline(routed.path === homePath ? "home" : "user", "error");
        opts.log.warn({ err: (err as Error).message }, "page path failed; asking the feed");
      }
      return undefined;
    },
    async answered(routed, request, viewer, meta) {
      if (viewer === null || !relationshipWrites.has(routed.path)) return;
      const user = (request as unknown as { userId?: bigint }).userId;
      if (typeof user !== "bigint") return;
      const pairs = opts.amendSets && opts.relSets ? asker(meta)?.pairs : undefined;
      const amended = await feed.relationshipChanged(viewer, user, pairs).catch(() => false);
      writes.inc({ result: amended ? "amended" : "dropped" });
    },
    close: () => redis.disconnect(),
  };
}

/**
 * A counter whose value is read from a page path component's own tallies when Prometheus
 * scrapes: `read()` gives each `label` value's count, or undefined while the component is
 * off (then the counter has no samples). Names and labels as the callers register them.
 */
function countedFrom(registry: Registry, name: string, help: string, label: string, read: () => Record<string, number> | undefined): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, count] of Object.entries(read() ?? {})) this.inc({ [label]: value }, count);
    },
  });
}
