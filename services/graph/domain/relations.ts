/**
 * Graph's use cases shared by several RPCs: who the actor may relate to, the viewer's
 * relations (from the caches, else one SQL statement), and the follow and unfollow
 * writes, which change the edge, both counts and the outbox in the caller's
 * transaction and only when a row really changed.
 */
import { Code } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import type { Queryable, Tx } from "#kit/mysql.ts";
import { ErrorReason } from "#gen/oasis/graph/v1/errors_pb.ts";
import { FollowCreatedSchema, FollowRemovedSchema, type FollowRemovedReason } from "#gen/oasis/graph/v1/events_pb.ts";
import type { Relationship } from "#gen/oasis/graph/v1/graph_pb.ts";
import type { GraphContext } from "../context.ts";
import type { EdgeList } from "../graph-cache.ts";
import type { RelationFlag } from "./model.ts";
import { isSelf, listVisibility, toRelationship } from "./rules.ts";

/** Throws INVALID_ARGUMENT SELF_RELATION when the viewer targets themself. */
export function notSelf(ctx: GraphContext, viewer: bigint, target: bigint): void {
  if (isSelf(viewer, target)) throw ctx.errors.fail(Code.InvalidArgument, ErrorReason.SELF_RELATION, "you cannot do this to yourself", { user_id: target });
}

/** The account's private flag; NOT_FOUND USER_NOT_FOUND when identity has no such user. */
export async function requireAccount(ctx: GraphContext, userId: bigint): Promise<boolean> {
  const p = (await ctx.accounts.privacy([userId])).get(userId);
  if (p === undefined) throw ctx.errors.notFound(ErrorReason.USER_NOT_FOUND, `no user ${userId}`, { user_id: userId });
  return p;
}

/**
 * The viewer's relation flags towards `ids`, from the cached lists and sets (no SQL),
 * or with one SQL statement when the viewer's lists are too long to cache. A point
 * lookup: for at most `pointLookupMax` ids (OASIS_GRAPH_POINT_LOOKUP_MAX) the lists are
 * used only if already cached; when they are not, the one SQL statement answers for
 * those pairs instead of loading the viewer's whole follower and following lists (every
 * follow drops both users' lists, and the follow's consumers then ask about one pair).
 */
export async function relationsOf(ctx: GraphContext, viewer: bigint, ids: readonly bigint[]): Promise<Map<bigint, Set<RelationFlag>>> {
  if (ids.length === 0) return new Map();
  if (ids.length <= ctx.rt.config.pointLookupMax) {
    const lists = await ctx.cache.cachedLists(viewer);
    if (!lists) return ctx.store.relationFlags(ctx.rt.db, viewer, ids);
    return flagsFrom(lists.following, lists.followers, await ctx.cache.smallSets(viewer), ids);
  }
  const [following, followers, small] = await Promise.all([
    ctx.cache.list("following", viewer),
    ctx.cache.list("followers", viewer),
    ctx.cache.smallSets(viewer),
  ]);
  if (!following || !followers) return ctx.store.relationFlags(ctx.rt.db, viewer, ids);
  return flagsFrom(following, followers, small, ids);
}

/** Relation flags towards `ids` from a viewer's cached lists and small sets. */
function flagsFrom(following: EdgeList, followers: EdgeList, small: Map<RelationFlag, Set<bigint>>, ids: readonly bigint[]): Map<bigint, Set<RelationFlag>> {
  const out = new Map<bigint, Set<RelationFlag>>();
  for (const id of ids) {
    const flags = new Set<RelationFlag>();
    if (following.has(id)) flags.add("following");
    if (followers.has(id)) flags.add("followedBy");
    for (const [flag, members] of small) if (members.has(id)) flags.add(flag);
    out.set(id, flags);
  }
  return out;
}

/** The relationship right after a write, read inside (`db` = the transaction) or after it. */
export async function relationship(ctx: GraphContext, viewer: bigint, target: bigint, db: Queryable = ctx.rt.db): Promise<Relationship> {
  return toRelationship(target, await ctx.store.pairFlags(db, viewer, target));
}

/** Creates follower -> followee with counts and event; returns the pair's flags afterwards. */
export async function writeFollow(ctx: GraphContext, tx: Tx, followerId: bigint, followeeId: bigint): Promise<Set<RelationFlag>> {
  const { store, rt } = ctx;
  const created = await store.insertFollow(tx, followerId, followeeId, rt.ids.next(), new Date());
  if (created) await store.addToCounts(tx, followerId, followeeId, 1);
  const flags = await store.pairFlags(tx, followerId, followeeId);
  if (created) await rt.outbox.add(tx, FollowCreatedSchema, { followerId, followeeId, mutual: flags.has("followedBy"), followeeMuting: flags.has("mutedBy") });
  return flags;
}

/** Removes follower -> followee with counts and event; false if there was none. */
export async function writeUnfollow(ctx: GraphContext, tx: Tx, followerId: bigint, followeeId: bigint, reason: FollowRemovedReason): Promise<boolean> {
  if (!(await ctx.store.deleteFollow(tx, followerId, followeeId))) return false;
  await ctx.store.addToCounts(tx, followerId, followeeId, -1);
  await ctx.rt.outbox.add(tx, FollowRemovedSchema, { followerId, followeeId, reason });
  return true;
}

/**
 * Checks that the current caller may see `owner`'s lists: NOT_FOUND USER_NOT_FOUND,
 * PERMISSION_DENIED BLOCKED (either blocks the other) or PRIVATE_ACCOUNT (not a follower).
 */
export async function checkListVisible(ctx: GraphContext, owner: bigint): Promise<void> {
  const viewer = currentCaller();
  const ownerPrivate = await requireAccount(ctx, owner);
  const flags = viewer.userId !== null ? (await relationsOf(ctx, viewer.userId, [owner])).get(owner) : undefined;
  const visibility = listVisibility(viewer, owner, ownerPrivate, flags);
  if (visibility === "blocked") throw ctx.errors.permissionDenied(ErrorReason.BLOCKED, "this user's lists are not available to you");
  if (visibility === "private") {
    throw ctx.errors.permissionDenied(ErrorReason.PRIVATE_ACCOUNT, "this account is private; follow it to see its lists", { user_id: owner });
  }
}
