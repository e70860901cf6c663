/**
 * The search page path (design note 29; the feed's is note 28): an anonymous SearchPosts
 * page that search computed is also kept, pre-encoded, in search's Redis with the
 * generation it was computed at, and the edge answers the same request from there in one
 * Lua call when the generation is still current, without the hop to search. The one
 * search module the edge may import (scripts/boundaries.ts EDGE_IMPORTS): the request's
 * key and the read are defined here, next to the route that writes them
 * (routes/search-posts.ts), so the two cannot drift apart.
 *
 * Key `page:<hash of the request cache's key>` in search's Redis, value
 * `<search:writes>:<search:views>:<search:q:tag>\n<request cache key>\n<SearchPostsResponse bytes>`,
 * 30 s (the request cache's age cap). The edge serves it only while the three counters
 * still hold those values (read in the same Lua call, so it is exactly as fresh as Redis:
 * a bump by any consumer ends it at once; `search:q:<tag>` is the query's own counter,
 * bumped by a new post that may match it, design note 32) and the stored key equals the
 * request's (a hash collision is a miss). The read also tells the page's remaining TTL,
 * so the edge can have it recomputed before it expires (edge/search-page-path.ts). Writers that bypass events (the reindex command bumps; a hand
 * edit of the index file would not) are seen by search's own cache only.
 */
import { pageSize } from "#kit/page-token.ts";
import type { SearchPostsRequest } from "#gen/oasis/search/v1/search_service_pb.ts";
import { parseQuery, type Query } from "./domain/analyze.ts";
import { queryKey } from "./routes/cached.ts";
import { queryGenKey, queryTag, viewsKey, writesKey, type QueryDep } from "./request-cache.ts";

/** A query's own counter in search's Redis (request-cache.ts), for the edge's tests. */
export { queryGenKey };

/** Seconds a stored page lives at most (the request cache's age cap). */
export const pageTtlSeconds = 30;
/**
 * Oldest search's own cached copy of an anonymous page may be, ms: 10 s under the stored
 * page's TTL, so a request the edge lets through to refresh a page in its last 10 s is
 * recomputed (edge/search-page-path.ts), not answered from search's copy.
 */
export const pageMaxAgeMs = (pageTtlSeconds - 10) * 1000;

/** The query a page depends on (its own counter, request-cache.ts QueryDep). */
export function queryDep(query: Query): QueryDep {
  const member = queryKey(query);
  return { tag: queryTag(member), member };
}

const ms = (t: { seconds: bigint; nanos: number } | undefined) => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : undefined);

/** The page-token scope of a SearchPosts request (the query as parsed, the filters). */
export function postsScope(query: Query, req: Pick<SearchPostsRequest, "authorId" | "after" | "before">): string {
  return `posts:${queryKey(query)}:${req.authorId}:${ms(req.after) ?? ""}:${ms(req.before) ?? ""}`;
}

/** The request cache's key of a SearchPosts page: scope, page size, page token. */
export function postsPageKey(scope: string, limit: number, pageToken: string): string {
  return `${scope}:${limit}:${pageToken}`;
}

/** The key of `req` as the route computes it and its query's tag, or undefined for a request the route would refuse or that the edge should not try. */
export function postsPageKeyOf(req: SearchPostsRequest): { key: string; tag: string } | undefined {
  const query = parseQuery(req.query);
  if (!query || req.pageSize < 0) return undefined;
  return { key: postsPageKey(postsScope(query, req), pageSize(req.pageSize, 20, 50), req.pageToken), tag: queryDep(query).tag };
}

/** Redis key (without search's prefix) of a stored page. */
export function pageRedisKey(key: string): string {
  return `page:${Bun.hash(key).toString(36)}`;
}

/**
 * The stored value: the counters part of the generation, the key, a stamp naming this
 * computation (its ms and a random part: an edge holding a copy with the same stamp
 * is told so instead of getting the bytes again), the encoded answer.
 */
export function pageValue(counters: string, key: string, bytes: Uint8Array): Buffer {
  const stamp = `${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 10)}`;
  return Buffer.concat([Buffer.from(`${counters}\n${key}\n${stamp}\n`), bytes]);
}

// KEYS: writes counter, views counter, the query's counter, the page; ARGV[1]: the
// request's key, ARGV[2]: the stamp of the copy the caller holds ("" if none). nil unless
// the page was stored at the counters' current values for this key; else {remaining TTL
// in ms, stamp} when the caller holds this very computation, {TTL, stamp, answer bytes}
// otherwise.
const readPage = `
local w = redis.call('GET', KEYS[1]) or '0'
local v = redis.call('GET', KEYS[2]) or '0'
local q = redis.call('GET', KEYS[3]) or '0'
local head = w .. ':' .. v .. ':' .. q .. '\\n' .. ARGV[1] .. '\\n'
local start = redis.call('GETRANGE', KEYS[4], 0, #head + 63)
if string.sub(start, 1, #head) ~= head then return nil end
local nl = string.find(start, '\\n', #head + 1, true)
if not nl then return nil end
local stamp = string.sub(start, #head + 1, nl - 1)
local ttl = redis.call('PTTL', KEYS[4])
if stamp == ARGV[2] then return {ttl, stamp} end
return {ttl, stamp, redis.call('GETRANGE', KEYS[4], nl, -1)}
`;

interface LuaRedis {
  defineCommand(name: string, def: { numberOfKeys: number; lua: string }): void;
}

/**
 * Reads stored pages for the edge. `redis` has no key prefix; `prefix` is search's
 * (`<namespace>:oasis:search:`).
 */
export class SearchPageReader {
  /** Request fields -> its page key and tag (parsing a query is most of a read's CPU); the oldest dropped first. */
  private readonly keys = new Map<string, { key: string; tag: string } | undefined>();

  constructor(
    private readonly redis: LuaRedis,
    private readonly prefix: string,
  ) {
    if (!("oasisSearchPage3Buffer" in redis)) redis.defineCommand("oasisSearchPage3", { numberOfKeys: 4, lua: readPage });
  }

  /** postsPageKeyOf(req), remembered for the last 10,000 distinct requests. */
  keyOf(req: SearchPostsRequest): { key: string; tag: string } | undefined {
    const id = `${req.query}\u0000${req.pageSize}\u0000${req.pageToken}\u0000${req.authorId}\u0000${ms(req.after) ?? ""}\u0000${ms(req.before) ?? ""}`;
    let k = this.keys.get(id);
    if (k === undefined && !this.keys.has(id)) {
      k = postsPageKeyOf(req);
      if (this.keys.size >= 10_000) this.keys.delete(this.keys.keys().next().value!);
      this.keys.set(id, k);
    }
    return k;
  }

  /**
   * The stored answer to `req` if it is current: its page key, remaining time to live
   * (ms), stamp, and bytes unless `held` is the stamp of the copy the caller holds (then
   * the caller's copy is current and `bytes` is undefined). Undefined when not current.
   * Throws if Redis fails.
   */
  async read(req: SearchPostsRequest, held?: (key: string) => string | undefined): Promise<{ key: string; ttlMs: number; stamp: string; bytes: Uint8Array | undefined } | undefined> {
    const k = this.keyOf(req);
    if (k === undefined) return undefined;
    const p = this.prefix;
    const got = await (this.redis as unknown as { oasisSearchPage3Buffer(...a: string[]): Promise<[number, Buffer, Buffer?] | null> }).oasisSearchPage3Buffer(
      p + writesKey,
      p + viewsKey,
      p + queryGenKey(k.tag),
      p + pageRedisKey(k.key),
      k.key,
      held?.(k.key) ?? "",
    );
    return got ? { key: k.key, ttlMs: Number(got[0]), stamp: got[1].toString("latin1"), bytes: got[2] } : undefined;
  }
}
