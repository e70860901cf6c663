/**
 * The pieces of one timeline page, read from the feed's Redis in one Lua call: the
 * timeline's ids below the cursor and, for the first `window` of them, the stored posts
 * (read-model.ts `rm:post`), their referred posts, counters, what the viewer did to each,
 * the authors' profiles and the viewer's relationships to them (`rm:rel`), plus, for a
 * home timeline, the authors merged at read time and the viewer's relationships to them.
 * The script applies nothing of the feed's rules: rules.ts decides on what it returns.
 *
 * For a home timeline the call also does what the feed's openHome does (timelines.ts):
 * records the read in `active` and extends the timeline's life; it refuses (a miss) a
 * timeline that is not built or whose reader was away longer than the active window,
 * which the feed must rebuild first.
 *
 * Keys are built inside the script from `prefix` (the feed's key prefix), so the caller's
 * connection must not add a prefix of its own.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { PostSchema, type Post } from "#gen/oasis/post/v1/post_pb.ts";
import { RelationshipSchema, type Relationship } from "#gen/oasis/graph/v1/graph_pb.ts";
import { PostCountsSchema, ViewerStateSchema, type PostCounts, type ViewerState } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import type { KeyNames } from "./key-names.ts";

/** Seconds a relationship (`rm:rel`) stays cached without an event (the bound on a missed one). */
export const relTtl = 3_600;

/** Seconds counters (`rm:counts`) and viewer state (`rm:state`) stay cached without an event (the staleness bound; read-model.ts). */
export const countsTtl = 300;

/**
 * The key, under `rm:rel` or `rm:state` (VersionedCache), of what `viewer` has to do with
 * `id` (a user or a post); `pairId` reads `id` back.
 */
export const pairKey = (viewer: bigint | string, id: bigint | string): string => `${viewer}:${id}`;

/** The `id` of a pairKey. */
export const pairId = (key: string): bigint => BigInt(key.slice(key.indexOf(":") + 1));

/** Counters as the read model stores them: `rm:counts` entries by post id (read-model.ts and the page path's fill). */
export function storedCounts(found: readonly PostCounts[]): Map<string, Buffer> {
  return new Map(found.map((c) => [String(c.postId), Buffer.from(toBinary(PostCountsSchema, c))]));
}

/** What `viewer` did to posts as the read model stores it: `rm:state` entries by pairKey. */
export function storedStates(viewer: bigint | string, found: readonly ViewerState[]): Map<string, Buffer> {
  return new Map(found.map((s) => [pairKey(viewer, s.postId), Buffer.from(toBinary(ViewerStateSchema, s))]));
}

/** How `viewer` relates to users as the read model stores it: `rm:rel` entries by pairKey. */
export function storedRelationships(viewer: bigint | string, found: readonly Relationship[]): Map<string, Buffer> {
  return new Map(found.map((r) => [pairKey(viewer, r.userId), Buffer.from(toBinary(RelationshipSchema, r))]));
}

/**
 * The viewer's relationship set: `rm:rels:<viewer>`, a hash of the viewer's non-empty
 * Relationships (graph's ListRelationships, bytes as graph encodes them) by the other
 * user's id, plus the field `*`: "1" when the hash holds every one of them (complete: a
 * user with no field relates to the viewer not at all), "0" when they were too many to
 * keep (the page path then fills pairs one by one, `rm:rel`). Kept `relTtl`; dropped
 * (with its version key `rm:rels:v:<viewer>` bumped, so a load that started before cannot
 * store) by every graph change of one of the viewer's relationships (relSetsDropScript;
 * a "0" marker is kept, only fenced).
 */
export const relSetKey = (viewer: bigint | string) => `rm:rels:${viewer}`;
/** The version key that fences loads of `rm:rels:<viewer>` (relSetKey). */
export const relSetVersionKey = (viewer: bigint | string) => `rm:rels:v:${viewer}`;
/** The field of `rm:rels:<viewer>` saying whether the set is complete ("1") or too large ("0"). */
export const relSetSentinel = "*";
/** Relationships a set holds at most: graph's ListRelationships page (one call per load). */
export const relSetMax = 10_000;
/**
 * What the page script returns for a relationship the viewer's complete set answers with
 * "none" (no field): one zero byte, which no Relationship encodes to (field number 0 is
 * not a field); decodeRelationship reads it as the empty Relationship.
 */
export const emptyRelationship = Buffer.from([0]);

/** A relationship as the page script returned it: the stored bytes, or the empty one for `emptyRelationship`. */
export function decodeRelationship(userId: string, v: Uint8Array): Relationship {
  if (v.length === 1 && v[0] === 0) return create(RelationshipSchema, { userId: BigInt(userId) });
  return fromBinary(RelationshipSchema, v);
}

// KEYS: value and version keys of each set to drop (pairs). Drops the set and bumps its
// version (kept a day, far longer than a load takes), so a load that read the version
// before cannot store what it read (relSetStoreScript). A "too large" marker (sentinel
// "0") stays until it expires: it answers nothing, and dropping it would make the
// account's next read load up to relSetMax relationships again only to find it too large.
export const relSetsDropScript = `
for i = 1, #KEYS, 2 do
  if redis.call('HGET', KEYS[i], '*') ~= '0' then redis.call('DEL', KEYS[i]) end
  redis.call('INCR', KEYS[i + 1])
  redis.call('EXPIRE', KEYS[i + 1], 86400)
end
return 1
`;

// KEYS: value and version keys of each set (pairs). The first half of an amend
// (amendRelationshipSets): bumps each version, so a load that started before cannot store
// (as a drop does), but keeps the set; returns per set the new version when the set is
// complete (sentinel "1": it will be amended), else "" (absent or too large: nothing to
// amend, the bump was all).
export const relSetsFenceScript = `
local out = {}
for i = 1, #KEYS, 2 do
  local v = redis.call('INCR', KEYS[i + 1])
  redis.call('EXPIRE', KEYS[i + 1], 86400)
  if redis.call('HGET', KEYS[i], '*') == '1' then out[#out + 1] = tostring(v) else out[#out + 1] = '' end
end
return out
`;

// KEYS: value and version keys of each set (pairs); ARGV: per set three values: the
// version its fence returned, the other user's id (the field), the relationship's bytes
// ("" when the pair relates not at all: the field is removed, as a load would leave it
// out). The second half of an amend: a set whose version is still the fence's gets the
// field written in place; one whose version moved (a drop, another amend or fence in
// between, whose answer may be older or newer than this one) is dropped and fenced as
// relSetsDropScript drops it (a "0" marker stays). Returns how many sets were amended.
export const relSetsAmendScript = `
local amended = 0
for i = 1, #KEYS, 2 do
  local j = (i - 1) / 2 * 3
  local seen, field, value = ARGV[j + 1], ARGV[j + 2], ARGV[j + 3]
  if (redis.call('GET', KEYS[i + 1]) or '') ~= seen then
    if redis.call('HGET', KEYS[i], '*') ~= '0' then redis.call('DEL', KEYS[i]) end
    redis.call('INCR', KEYS[i + 1])
    redis.call('EXPIRE', KEYS[i + 1], 86400)
  elseif redis.call('HGET', KEYS[i], '*') == '1' then
    if value == '' then redis.call('HDEL', KEYS[i], field) else redis.call('HSET', KEYS[i], field, value) end
    amended = amended + 1
  end
end
return amended
`;

/**
 * Defines the relationship sets' scripts on `redis` (dropRelationshipSets, relSetStoreScript
 * as `oasisFeedRelSetStore`, amendRelationshipSets). Call it when the connection is made,
 * before any command: a connection with auto-pipelining keeps pipelines made before a
 * definition, and they lack the command.
 */
export function withRelSetScripts(redis: Redis): void {
  if (!("oasisFeedRelSetsDrop" in redis)) redis.defineCommand("oasisFeedRelSetsDrop", { lua: relSetsDropScript });
  if (!("oasisFeedRelSetStore" in redis)) redis.defineCommand("oasisFeedRelSetStore", { numberOfKeys: 2, lua: relSetStoreScript });
  if (!("oasisFeedRelSetsFence" in redis)) redis.defineCommand("oasisFeedRelSetsFence", { lua: relSetsFenceScript });
  if (!("oasisFeedRelSetsAmend" in redis)) redis.defineCommand("oasisFeedRelSetsAmend", { lua: relSetsAmendScript });
}

/** Whether a Relationship says anything (a relationship set holds only these; ListRelationships lists only these). */
export function relates(r: Relationship): boolean {
  return r.following || r.followedBy || r.mutual || r.requested || r.requestedBy || r.blocking || r.blockedBy || r.muting;
}

type AmendRedis = Redis & {
  oasisFeedRelSetsFence(numKeys: number, ...keys: string[]): Promise<string[]>;
  oasisFeedRelSetsAmend(numKeys: number, ...args: Array<string | Buffer>): Promise<number>;
};

/**
 * Amends the relationship sets of the viewers of `pairs` ([viewer, user]: graph committed a
 * change to how the viewer relates to the user) in place instead of dropping them: each
 * viewer's set is fenced (its version bumped, so a load that started before cannot store;
 * the set keeps answering meanwhile, as it did before the event was consumed), then, for
 * the sets that are complete, `ask` gives the viewer's relationships to those users as
 * graph has them now (BatchGetRelationships as the viewer: after the commit, so at least
 * as new as the change) and each pair's field is written (removed when the pair relates
 * not at all), one Lua call, only where the version is still the fence's; a set whose
 * version moved meanwhile is dropped, as before. `prefix`: the feed's key prefix, "" when
 * the connection adds it. Returns the sets amended. A pair's viewer may appear once per
 * call (a graph event changes one pair per viewer); `ask` errors reject after the fence,
 * leaving the sets to the caller's retry (the event is redelivered) or to a drop.
 */
export async function amendRelationshipSets(
  redis: Redis,
  prefix: string,
  pairs: ReadonlyArray<readonly [bigint, bigint]>,
  ask: (viewer: bigint, users: bigint[]) => Promise<Relationship[]>,
): Promise<number> {
  if (pairs.length === 0) return 0;
  withRelSetScripts(redis);
  const r = redis as AmendRedis;
  const versions = await r.oasisFeedRelSetsFence(pairs.length * 2, ...pairs.flatMap(([viewer]) => relSetKeysOf(prefix, viewer)));
  return amendFencedRelationshipSets(redis, prefix, pairs, versions, ask);
}

/** A viewer's relationship set and its version key, with the feed's `prefix` (relSetsFenceScript's KEYS, a pair per viewer). */
export const relSetKeysOf = (prefix: string, viewer: bigint) => [`${prefix}${relSetKey(viewer)}`, `${prefix}${relSetVersionKey(viewer)}`];

/**
 * The first half of `amendRelationshipSets` queued on `pipeline` (a pipeline of a
 * connection withRelSetScripts prepared): the viewers' sets fenced. Its reply (an array,
 * one version or "" per pair) goes to `amendFencedRelationshipSets` with the same pairs.
 */
export function fenceRelationshipSetsIn(pipeline: ChainableCommander, prefix: string, pairs: ReadonlyArray<readonly [bigint, bigint]>): void {
  (pipeline as unknown as AmendRedis).oasisFeedRelSetsFence(pairs.length * 2, ...pairs.flatMap(([viewer]) => relSetKeysOf(prefix, viewer)));
}

/**
 * The second half of `amendRelationshipSets`: `versions` are the fence's reply for
 * `pairs`; the complete sets among them get the pair as `ask` answers it, where the
 * version is still the fence's. Returns the sets amended.
 */
export async function amendFencedRelationshipSets(
  redis: Redis,
  prefix: string,
  pairs: ReadonlyArray<readonly [bigint, bigint]>,
  versions: readonly string[],
  ask: (viewer: bigint, users: bigint[]) => Promise<Relationship[]>,
): Promise<number> {
  const live = pairs.map((p, i) => [p, versions[i] ?? ""] as const).filter(([, v]) => v !== "");
  if (live.length === 0) return 0;
  const answers = await Promise.all(live.map(async ([[viewer, user]]) => (await ask(viewer, [user])).find((x) => x.userId === user)));
  const args: Array<string | Buffer> = [];
  live.forEach(([[, user], version], i) => {
    const rel = answers[i];
    args.push(version, String(user), rel && relates(rel) ? Buffer.from(toBinary(RelationshipSchema, rel)) : "");
  });
  return (redis as AmendRedis).oasisFeedRelSetsAmend(live.length * 2, ...live.flatMap(([[viewer]]) => relSetKeysOf(prefix, viewer)), ...args);
}

/**
 * Queues `dropRelationshipSets` on `pipeline` (a pipeline of a connection
 * withRelSetScripts prepared).
 */
export function dropRelationshipSetsIn(pipeline: ChainableCommander, prefix: string, users: ReadonlyArray<bigint | string>): void {
  const keys = [...new Set(users.map(String))].flatMap((u) => [`${prefix}${relSetKey(u)}`, `${prefix}${relSetVersionKey(u)}`]);
  if (keys.length === 0) return;
  (pipeline as unknown as { oasisFeedRelSetsDrop(numKeys: number, ...keys: string[]): unknown }).oasisFeedRelSetsDrop(keys.length, ...keys);
}

/**
 * Drops the relationship sets of `users` (pieces.ts relSetKey) and bumps their versions,
 * so a load that started before cannot store its answer: call after graph committed a
 * change to one of their relationships. `prefix`: the feed's key prefix, "" when the
 * connection adds it.
 */
export async function dropRelationshipSets(redis: Redis, prefix: string, users: ReadonlyArray<bigint | string>): Promise<void> {
  const keys = [...new Set(users.map(String))].flatMap((u) => [`${prefix}${relSetKey(u)}`, `${prefix}${relSetVersionKey(u)}`]);
  if (keys.length === 0) return;
  withRelSetScripts(redis);
  await (redis as Redis & { oasisFeedRelSetsDrop(numKeys: number, ...keys: string[]): Promise<number> }).oasisFeedRelSetsDrop(keys.length, ...keys);
}

// KEYS[1] the set, KEYS[2] its version key; ARGV[1] the version read before the load ("" =
// none), ARGV[2] TTL seconds, ARGV[3] "1" complete / "0" too large, then field, value
// pairs. Stores the set (replacing any) only if no drop bumped the version meanwhile.
export const relSetStoreScript = `
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '*', ARGV[3])
for i = 4, #ARGV, 2000 do
  local last = math.min(i + 1999, #ARGV)
  redis.call('HSET', KEYS[1], unpack(ARGV, i, last))
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
`;

/** `rm:post` bytes of a live post: `\x02<author id>,<refer post id>;` + Protobuf. */
export function encodeStoredPost(post: Post): Buffer {
  return Buffer.concat([Buffer.from(`\x02${post.authorId},${post.referPostId};`, "latin1"), Buffer.from(toBinary(PostSchema, post))]);
}

/**
 * encodeStoredPost's bytes taken from an event's own bytes when it has them: `event` is a
 * message whose field `field` is `post` as published (post_created, post_updated: field
 * 1), so its Protobuf is copied, not encoded again. Without `event`, or if the field is
 * not in it, the post is encoded.
 */
export function storedPostFromEvent(post: Post, event: Uint8Array | undefined, field = 1): Buffer {
  const bytes = event && fieldBytes(event, field);
  if (!bytes) return encodeStoredPost(post);
  return Buffer.concat([Buffer.from(`\x02${post.authorId},${post.referPostId};`, "latin1"), bytes]);
}

/** The last occurrence of length-delimited field `field` of a Protobuf message (undefined when absent or malformed). */
function fieldBytes(message: Uint8Array, field: number): Uint8Array | undefined {
  try {
    const r = new BinaryReader(message);
    let found: Uint8Array | undefined;
    while (r.pos < r.len) {
      const [no, wire] = r.tag();
      if (no === field && wire === WireType.LengthDelimited) found = r.bytes();
      else r.skip(wire, no);
    }
    return found;
  } catch {
    return undefined;
  }
}

/**
 * A post from `rm:post` bytes: undefined for a tombstone (`\x01`). Reads both live forms:
 * `\x02<author>,<refer>;` + Protobuf (encodeStoredPost) and `\x00` + Protobuf (older).
 */
export function decodeStoredPost(v: Uint8Array): Post | undefined {
  if (v[0] === 0) return fromBinary(PostSchema, v.subarray(1));
  if (v[0] !== 2) return undefined;
  return fromBinary(PostSchema, v.subarray(v.indexOf(0x3b) + 1));
}

// ARGV: prefix, kind ("ht" | "ut"), owner, viewer, before id ("" = top), before's
// millisecond ("+inf" = top), window, now ms, sets ("1": a relationship missing from
// `rm:rel` is answered from the viewer's complete set `rm:rels`, relSetKey: its field, or
// "\0" (emptyRelationship) when it has none; else "", unknown), mode ("check": the checks
// and the read's record only, then {"same", "same"}: the caller holds the page, tracked,
// tracking.ts), lean ("1": live and referred posts as their header only, counters and
// profiles "", for a caller that holds them, held.ts; the reply's shape is the same).
// Returns {"miss", reason}, or the page's parts {"ok", settings, ids csv, celebs csv, n,
// then per hydrated id: post, counts, flags ("<whole><liked><referred>"), state; refer ids
// csv, their posts; author ids csv, per author: profile, relationship; per celeb:
// relationship} as ONE string: "<length>,<length>,...;" then the parts back to back (one
// bulk reply: the client decodes one value, not a hundred, and a reply can be compared
// with another in one go). A value absent from Redis is "" (Lua arrays cannot hold nil).
export const pageScript = `
local P, kind, owner, me, before, beforeMs = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local W, now = tonumber(ARGV[7]), tonumber(ARGV[8])
local settings = redis.call('GET', P .. 'rm:page-path')
if not settings then return {'miss', 'off'} end
local activeMs, homeTtl = string.match(settings, '^(%d+) (%d+) ')
if not activeMs then return {'miss', 'off'} end
local celebs = {}
if kind == 'ht' then
  if redis.call('EXISTS', P .. 'hb:' .. me) == 0 then return {'miss', 'unbuilt'} end
  local last = redis.call('ZSCORE', P .. 'active', me)
  if not last or tonumber(last) < now - tonumber(activeMs) then return {'miss', 'away'} end
  redis.call('ZADD', P .. 'active', now, me)
  redis.call('EXPIRE', P .. 'hb:' .. me, tonumber(homeTtl))
  local htTtl = tonumber(homeTtl) + 3600
  -- The timeline's life is extended only when it lost a minute: an EXPIRE is a change
  -- to the key for clients tracking it (tracking.ts), which would end a tracked page.
  if redis.call('PTTL', P .. 'ht:' .. me) < htTtl * 1000 - 60000 then
    redis.call('EXPIRE', P .. 'ht:' .. me, htTtl)
  end
  if ARGV[10] == 'check' then return {'same', 'same'} end
  celebs = redis.call('SMEMBERS', P .. 'celebs')
elseif redis.call('EXISTS', P .. 'ub:' .. owner) == 0 then
  return {'miss', 'unbuilt'}
elseif ARGV[10] == 'check' then
  return {'same', 'same'}
end
local function below(id)
  return before == '' or #id < #before or (#id == #before and id < before)
end
-- A first page (no cursor) takes every id the range gives, so W + 1 of them are read;
-- below a cursor W + 65 (the slack for ids in the cursor's millisecond).
local raw = redis.call('ZRANGE', P .. kind .. ':' .. owner, beforeMs, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, before == '' and (W + 1) or (W + 65))
local ids = {}
for _, id in ipairs(raw) do
  if below(id) then
    ids[#ids + 1] = id
    if #ids == W + 1 then break end
  end
end
local n = math.min(#ids, W)
local out = {'ok', settings, table.concat(ids, ','), table.concat(celebs, ','), tostring(n)}
local authors, authorList, refers, referList = {}, {}, {}, {}
local function author(a)
  if not authors[a] then authors[a] = true; authorList[#authorList + 1] = a end
end
-- One MGET per kind of key (a call per key costs more than the lookups it makes).
local function mget(pre, list)
  if #list == 0 then return {} end
  local keys = {}
  for k = 1, #list do keys[k] = P .. pre .. list[k] end
  return redis.call('MGET', unpack(keys))
end
local hydrated = {}
for i = 1, n do hydrated[i] = ids[i] end
-- Lean (ARGV[11] "1", held.ts): a live post's and a referred post's header only, no
-- counters and no profiles: the caller holds those (tracked) and puts them back.
local lean = ARGV[11] == '1'
local posts = mget('rm:post:', hydrated)
local counts = lean and {} or mget('rm:counts:', hydrated)
local wholes = mget('rm:whole:', hydrated)
-- The viewer's refer markers asked in one EXISTS (one per post only when some exist,
-- which is rare), and the viewer's states of posts not seen whole in one MGET.
local anyRef, states = false, {}
if n > 0 then
  local rk, sk, si = {}, {}, {}
  for i = 1, n do
    rk[i] = P .. 'rm:ref:' .. me .. ':' .. ids[i]
    if not wholes[i] then sk[#sk + 1] = P .. 'rm:state:' .. me .. ':' .. ids[i]; si[#si + 1] = i end
  end
  anyRef = redis.call('EXISTS', unpack(rk)) > 0
  if #sk > 0 then
    local got = redis.call('MGET', unpack(sk))
    for j = 1, #si do states[si[j]] = got[j] end
  end
end
for i = 1, n do
  local id = ids[i]
  local v = posts[i] or ''
  local a, r = string.match(v, '^\\2(%d+),(%d+);')
  if a and lean then out[#out + 1] = string.sub(v, 1, #a + #r + 3) else out[#out + 1] = v end
  if a then
    author(a)
    if r ~= '0' and not refers[r] then refers[r] = true; referList[#referList + 1] = r end
    out[#out + 1] = counts[i] or ''
    local whole = wholes[i] and 1 or 0
    local liked = redis.call('SISMEMBER', P .. 'rm:likers:' .. id, me)
    local referred = anyRef and redis.call('EXISTS', P .. 'rm:ref:' .. me .. ':' .. id) or 0
    out[#out + 1] = whole .. liked .. referred
    if whole == 1 then out[#out + 1] = '' else out[#out + 1] = states[i] or '' end
  else
    out[#out + 1] = ''; out[#out + 1] = ''; out[#out + 1] = ''
  end
end
out[#out + 1] = table.concat(referList, ',')
local referred = mget('rm:post:', referList)
for k = 1, #referList do
  local v = referred[k] or ''
  local a, r = string.match(v, '^\\2(%d+),(%d+);')
  if a and lean then out[#out + 1] = string.sub(v, 1, #a + #r + 3) else out[#out + 1] = v end
  if a then author(a) end
end
out[#out + 1] = table.concat(authorList, ',')
local profiles = lean and {} or mget('rm:author:', authorList)
local rels = mget('rm:rel:' .. me .. ':', authorList)
local celebRels = mget('rm:rel:' .. me .. ':', celebs)
-- Pairs not in rm:rel: from the viewer's set when it is complete (one HMGET, its
-- sentinel last), a user without a field being the empty relationship.
if ARGV[9] == '1' then
  local need, at = {}, {}
  for k = 1, #authorList do if not rels[k] then need[#need + 1] = authorList[k]; at[#at + 1] = {rels, k} end end
  for k = 1, #celebs do if not celebRels[k] then need[#need + 1] = celebs[k]; at[#at + 1] = {celebRels, k} end end
  if #need > 0 then
    need[#need + 1] = '*'
    local got = redis.call('HMGET', P .. 'rm:rels:' .. me, unpack(need))
    if got[#got] == '1' then
      for j = 1, #at do at[j][1][at[j][2]] = got[j] or '\0' end
    end
  end
end
for k = 1, #authorList do
  out[#out + 1] = profiles[k] or ''
  out[#out + 1] = rels[k] or ''
end
for k = 1, #celebs do
  out[#out + 1] = celebRels[k] or ''
end
local lengths = {}
for k = 1, #out do lengths[k] = #out[k] end
return table.concat(lengths, ',') .. ';' .. table.concat(out)
`;

type PageRedis = Redis & { oasisFeedPageBuffer(...args: Array<string | number>): Promise<Buffer | Buffer[]> };

/** What the script returned for a hydrated id ("" parts: absent from Redis). */
export interface RawItem {
  readonly post: Buffer;
  readonly counts: Buffer;
  /** "<whole><liked><referred>" as 0/1, "" when the post is not live. */
  readonly flags: string;
  readonly state: Buffer;
}

export type Pieces =
  | { readonly ok: false; readonly reason: string }
  | {
      readonly ok: true;
      /** The counters and viewer state are the interaction service's (absent: none). */
      readonly interaction: boolean;
      /** Timeline ids below the cursor, newest first: `window` + 1 at most. */
      readonly ids: readonly string[];
      /** Of `ids`, the first `items.length` are hydrated. */
      readonly items: readonly RawItem[];
      readonly referred: ReadonlyMap<string, Buffer>;
      readonly profiles: ReadonlyMap<string, Buffer>;
      readonly relationships: ReadonlyMap<string, Buffer>;
      /** Authors merged at read time (home), each with the viewer's relationship ("" unknown). */
      readonly celebs: ReadonlyArray<readonly [string, Buffer]>;
    };

const csv = (b: Buffer | undefined) => {
  const s = b?.toString("latin1") ?? "";
  return s ? s.split(",") : [];
};

/** Loads the script into `redis` (once per connection object). */
export function withPageScript(redis: Redis): PageRedis {
  if (!("oasisFeedPage" in redis)) redis.defineCommand("oasisFeedPage", { numberOfKeys: 0, lua: pageScript });
  return redis as PageRedis;
}

export interface PieceRequest {
  /** The feed's key prefix, e.g. `oasis:feed:`. */
  readonly prefix: string;
  readonly kind: "ht" | "ut";
  readonly owner: bigint;
  readonly viewer: bigint;
  readonly before: bigint | undefined;
  /** The millisecond of `before` (kit/ids.ts idTimeMs). */
  readonly beforeMs: number | undefined;
  /** Ids to hydrate; one more id is read to know whether the timeline goes on. */
  readonly window: number;
  readonly nowMs: number;
  /** Answer relationships missing from `rm:rel` from the viewer's complete set (relSetKey). */
  readonly sets?: boolean;
}

/**
 * The script's reply for a page it can serve: its parts in one buffer (what reuse.ts
 * compares); or, for a check (ReadMode), `same`: the checks passed and the read was
 * recorded, nothing read.
 */
export type RawPieces =
  | { readonly ok: true; readonly raw: Buffer; readonly same?: undefined }
  | { readonly ok: true; readonly same: true; readonly raw?: undefined }
  | { readonly ok: false; readonly reason: string };

/**
 * How readRawPieces reads (tracking.ts). `check`: only the checks and the read's record
 * (the caller holds the page, tracked). `track`: keys to read with `CLIENT CACHING YES` +
 * `EXISTS` right before the call, written in a row with it, so the connection tracks them.
 */
export interface ReadMode {
  readonly check?: boolean;
  readonly track?: readonly string[];
  /**
   * A lean read (held.ts): live posts and referred posts answered as their header only
   * (`\x02<author>,<refer>;`), counters and profiles as "" (the caller holds them and
   * puts them back, held.ts expandValues); everything else as a full read answers it.
   */
  readonly lean?: boolean;
}

/**
 * A check the caller runs before the page in the same Lua call (the edge's rate limit and
 * session revocation): `lua` is the body of a Lua function of (KEYS, ARGV) whose reply's
 * first element is 1 to go on to the page; `keys` and `args` are its KEYS and ARGV (keys as
 * stored: the page path's connection adds no prefix). The call sets `verdict` to the
 * check's reply; unless it starts with 1 the page is not read (reason "gate").
 */
export interface PageGate {
  /** A name for the combined command, one per distinct `lua`. */
  readonly name: string;
  readonly lua: string;
  readonly keys: readonly string[];
  readonly args: ReadonlyArray<string | number>;
  verdict?: number[];
}

/** The check's function, then the page's, in one script (KEYS: the check's; ARGV: their count, the check's, the page's). */
function gatedScript(gateLua: string): string {
  return `local function gate(KEYS, ARGV)
${gateLua}
end
local function page(ARGV)
${pageScript}
end
local ng = tonumber(ARGV[1])
local ga, pa = {}, {}
for i = 2, ng + 1 do ga[#ga + 1] = ARGV[i] end
for i = ng + 2, #ARGV do pa[#pa + 1] = ARGV[i] end
local verdict = gate(KEYS, ga)
if verdict[1] ~= 1 then return {verdict, ''} end
return {verdict, page(pa)}
`;
}

type Call = (...a: Array<string | number>) => Promise<unknown>;

/**
 * One Redis round trip: the pieces of a page as the script returned them (parsePieces
 * reads them), or why the page path cannot serve it; with `gate`, the gate's check first,
 * in the same call; `mode` as ReadMode says.
 */
export async function readRawPieces(redis: PageRedis, q: PieceRequest, gate?: PageGate, mode: ReadMode = {}): Promise<RawPieces> {
  const args = [q.prefix, q.kind, String(q.owner), String(q.viewer), q.before === undefined ? "" : String(q.before), q.beforeMs === undefined ? "+inf" : String(q.beforeMs), q.window, q.nowMs, q.sets ? 1 : 0, mode.check ? "check" : "", mode.lean ? "1" : ""];
  let command = "oasisFeedPageBuffer";
  let callArgs: Array<string | number> = args;
  if (gate) {
    const name = `oasisFeedPage_${gate.name}`;
    if (!(name in redis)) redis.defineCommand(name, { lua: gatedScript(gate.lua) });
    command = `${name}Buffer`;
    callArgs = [gate.keys.length, ...gate.keys, gate.args.length, ...gate.args, ...args];
  }
  let out: unknown;
  if (mode.track?.length) {
    // Three commands written one after another in this turn, so adjacent on the
    // connection (CACHING YES applies to the EXISTS right after it), without a Pipeline.
    // Replies come in order: a failed CACHING or EXISTS is seen before the page's reply.
    let failed: unknown;
    const fail = (err: unknown) => void (failed ??= err);
    redis.call("CLIENT", "CACHING", "YES").catch(fail);
    redis.exists(...mode.track).catch(fail);
    out = await (redis as unknown as Record<string, Call>)[command]!(...callArgs);
    if (failed) throw failed;
  } else out = await (redis as unknown as Record<string, Call>)[command]!(...callArgs);
  let r: Buffer | Buffer[];
  if (gate) {
    const [verdict, page] = out as [number[], Buffer | Buffer[]];
    gate.verdict = verdict;
    if (verdict[0] !== 1) return { ok: false, reason: "gate" };
    r = page;
  } else r = out as Buffer | Buffer[];
  if (Array.isArray(r)) {
    const tag = r[0]!.toString();
    return tag === "same" ? { ok: true, same: true } : { ok: false, reason: r[1]!.toString() };
  }
  return { ok: true, raw: r };
}

/**
 * Every key the page script read for a page it served (`pieces`, parsePieces of its
 * reply) that the page depends on: the read model's settings, the timeline, the authors
 * merged at read time (home), per hydrated post its post, counters, marker, likers, the
 * viewer's refer marker and state, the referred posts, per author the profile and the
 * viewer's relationship pair, per merged author the pair, and the viewer's relationship
 * set. Not the built and away markers nor `active`: a check reads those again.
 * `names`: the names kept for the feed's key prefix (key-names.ts), the same string
 * objects every read.
 */
export function pageKeys(names: KeyNames, kind: "ht" | "ut", owner: bigint, viewer: bigint, pieces: Extract<Pieces, { ok: true }>): string[] {
  const v = names.viewer(String(viewer));
  const keys = [names.settings, names.timeline(kind, String(owner)), v.relSet];
  if (kind === "ht") keys.push(names.celebs);
  for (let i = 0; i < pieces.items.length; i++) {
    const id = pieces.ids[i]!;
    const p = names.post(id);
    keys.push(p.post, p.counts, p.whole, p.likers, v.ref(id), v.state(id));
  }
  for (const id of pieces.referred.keys()) keys.push(names.post(id).post);
  for (const a of pieces.profiles.keys()) keys.push(names.author(a), v.rel(a));
  for (const [c] of pieces.celebs) keys.push(v.rel(c));
  return keys;
}

/** The parts of a reply: "<length>,...;" then the parts back to back. */
export function splitParts(raw: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let i = 0;
  let n = 0;
  const lengths: number[] = [];
  for (; ; i++) {
    const c = raw[i];
    if (c === undefined) throw new Error("page script reply has no ';'");
    if (c === 0x2c || c === 0x3b) {
      lengths.push(n);
      n = 0;
      if (c === 0x3b) break;
    } else n = n * 10 + (c - 0x30);
  }
  let at = i + 1;
  for (const len of lengths) {
    parts.push(raw.subarray(at, at + len));
    at += len;
  }
  if (at !== raw.length) throw new Error("page script reply lengths do not add up");
  return parts;
}

/** The pieces of a served reply (readRawPieces); `parts`: splitParts(raw) when the caller has them. */
export function parsePieces(raw: Buffer, parts?: readonly Buffer[]): Pieces {
  const r = parts ?? splitParts(raw);
  let i = 0;
  const next = () => r[i++]!;
  if (next().toString() !== "ok") throw new Error("page script reply does not start with ok");
  const settings = next().toString("latin1").split(" ");
  const ids = csv(next());
  const celebIds = csv(next());
  const n = Number(next().toString());
  const items: RawItem[] = [];
  for (let k = 0; k < n; k++) items.push({ post: next(), counts: next(), flags: next().toString("latin1"), state: next() });
  const referred = new Map<string, Buffer>();
  for (const id of csv(next())) referred.set(id, next());
  const profiles = new Map<string, Buffer>();
  const relationships = new Map<string, Buffer>();
  for (const a of csv(next())) {
    profiles.set(a, next());
    relationships.set(a, next());
  }
  const celebs = celebIds.map((c) => [c, next()] as const);
  return { ok: true, interaction: settings[2] === "1", ids, items, referred, profiles, relationships, celebs };
}

/** One Redis round trip: the pieces of a page, or why the page path cannot serve it. */
export async function readPieces(redis: PageRedis, q: PieceRequest): Promise<Pieces> {
  const r = await readRawPieces(redis, q);
  if (!r.ok) return r;
  if (!r.raw) throw new Error("page script answered a full read with same");
  return parsePieces(r.raw);
}
