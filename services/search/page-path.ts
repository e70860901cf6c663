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

/** The stored value: the counters part of the generation, the key, the encoded answer. */
export function pageValue(counters: string, key: string, bytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${counters}\n${key}\n`), bytes]);
}

// KEYS: writes counter, views counter, the query's counter, the page; ARGV[1]: the
// request's key. {answer bytes, remaining TTL in ms} if the page was stored at the
// counters' current values for this key, else nil.
const readPage = `
local w = redis.call('GET', KEYS[1]) or '0'
local v = redis.call('GET', KEYS[2]) or '0'
local q = redis.call('GET', KEYS[3]) or '0'
local page = redis.call('GET', KEYS[4])
if not page then return nil end
local head = w .. ':' .. v .. ':' .. q .. '\\n' .. ARGV[1] .. '\\n'
if string.sub(page, 1, #head) ~= head then return nil end
return {string.sub(page, #head + 1), redis.call('PTTL', KEYS[4])}
`;

interface LuaRedis {
  defineCommand(name: string, def: { numberOfKeys: number; lua: string }): void;
}

/**
 * Reads stored pages for the edge. `redis` has no key prefix; `prefix` is search's
 * (`<namespace>:oasis:search:`).
 */
export class SearchPageReader {
  constructor(
    private readonly redis: LuaRedis,
    private readonly prefix: string,
  ) {
    if (!("oasisSearchPage2Buffer" in redis)) redis.defineCommand("oasisSearchPage2", { numberOfKeys: 4, lua: readPage });
  }

  /**
   * The stored answer to `req` if it is current, with the page's request cache key and its
   * remaining time to live (ms); undefined otherwise. Throws if Redis fails.
   */
  async read(req: SearchPostsRequest): Promise<{ bytes: Uint8Array; key: string; ttlMs: number } | undefined> {
    const k = postsPageKeyOf(req);
    if (k === undefined) return undefined;
    const p = this.prefix;
    const got = await (this.redis as unknown as { oasisSearchPage2Buffer(...a: string[]): Promise<[Buffer, number] | null> }).oasisSearchPage2Buffer(
      p + writesKey,
      p + viewsKey,
      p + queryGenKey(k.tag),
      p + pageRedisKey(k.key),
      k.key,
    );
    return got ? { bytes: got[0], key: k.key, ttlMs: Number(got[1]) } : undefined;
  }
}
