/**
 * GraphService handlers. The caller is always the actor (verified mesh caller
 * assertion); writes change rows, counts and the outbox in one transaction and only
 * when a row really changed, then drop the affected Redis entries.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import type { Queryable, Tx } from "#kit/mysql.ts";
import { idTimeMs } from "#kit/ids.ts";
import { ErrorReason } from "#gen/oasis/graph/v1/errors_pb.ts";
import {
  BlockCreatedSchema,
  BlockRemovedSchema,
  FollowCreatedSchema,
  FollowRemovedReason,
  FollowRemovedSchema,
  FollowRequestedSchema,
  MuteCreatedSchema,
  MuteRemovedSchema,
} from "#gen/oasis/graph/v1/events_pb.ts";
import { FollowEdgeSchema, FollowState, GraphCountsSchema, PendingFollowerSchema, type Relationship } from "#gen/oasis/graph/v1/graph_pb.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "./context.ts";
import { isSelf, listVisibility, toRelationship } from "./domain.ts";
import {
  addToCounts,
  blockedEitherWayForUpdate,
  deleteBlock,
  deleteFollow,
  deleteMute,
  deleteRequest,
  edgePage,
  followBatched,
  followingIds,
  insertBlock,
  insertFollow,
  insertMute,
  insertRequest,
  isFollowing,
  mutualPage,
  pairFlags,
  relationFlags,
  requestsPage,
  type RelationFlag,
} from "./store.ts";

const caller = () => currentCaller();

export function graphService(ctx: GraphContext): ServiceImpl<typeof GraphService> {
  const { rt, errors } = ctx;

  /** The signed-in caller (the kit's access check guarantees one for ACCESS_USER methods). */
  const me = () => caller().userId!;

  function notSelf(viewer: bigint, target: bigint): void {
    if (isSelf(viewer, target)) throw errors.fail(Code.InvalidArgument, ErrorReason.SELF_RELATION, "you cannot do this to yourself", { user_id: target });
  }

  /**
   * The viewer's relation flags towards `ids`, from the cached lists and sets (no SQL),
   * or with one SQL statement when the viewer's lists are too long to cache.
   */
  async function relationsOf(viewer: bigint, ids: readonly bigint[]): Promise<Map<bigint, Set<RelationFlag>>> {
    const [following, followers, small] = await Promise.all([
      ctx.cache.list("following", viewer),
      ctx.cache.list("followers", viewer),
      ctx.cache.smallSets(viewer),
    ]);
    if (!following || !followers) return relationFlags(rt.db, viewer, ids);
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

  /** The relationship right after a write, read inside or after its transaction. */
  async function relationship(viewer: bigint, target: bigint, db: Queryable = rt.db): Promise<Relationship> {
    return toRelationship(target, await pairFlags(db, viewer, target));
  }

  async function requireAccount(userId: bigint): Promise<boolean> {
    const privacy = await ctx.accounts.privacy([userId]);
    const p = privacy.get(userId);
    if (p === undefined) throw errors.notFound(ErrorReason.USER_NOT_FOUND, `no user ${userId}`, { user_id: userId });
    return p;
  }

  /** Creates follower -> followee with counts and event; returns the pair's flags afterwards. */
  async function follow(tx: Tx, followerId: bigint, followeeId: bigint): Promise<Set<RelationFlag>> {
    const created = await insertFollow(tx, followerId, followeeId, rt.ids.next(), new Date());
    if (created) await addToCounts(tx, followerId, followeeId, 1);
    const flags = await pairFlags(tx, followerId, followeeId);
    if (created) await rt.outbox.add(tx, FollowCreatedSchema, { followerId, followeeId, mutual: flags.has("followedBy") });
    return flags;
  }

  /** Follows (or, for a private account, asks to), statement by statement; undefined if blocked. */
  async function followInSteps(viewer: bigint, target: bigint, targetPrivate: boolean): Promise<{ state: FollowState; flags: Set<RelationFlag> } | undefined> {
    return rt.tx(async (tx) => {
      if (await blockedEitherWayForUpdate(tx, viewer, target)) return undefined;
      if (targetPrivate && !(await isFollowing(tx, viewer, target))) {
        if (await insertRequest(tx, viewer, target, rt.ids.next(), new Date())) {
          await rt.outbox.add(tx, FollowRequestedSchema, { requesterId: viewer, targetId: target });
        }
        return { state: FollowState.REQUESTED, flags: await pairFlags(tx, viewer, target) };
      }
      return { state: FollowState.FOLLOWING, flags: await follow(tx, viewer, target) };
    });
  }

  /** Follows a public account in one transaction of two round trips (store.ts followBatched); undefined if blocked. */
  async function followPublic(viewer: bigint, target: bigint): Promise<{ state: FollowState; flags: Set<RelationFlag> } | undefined> {
    const r = await rt.batchTx((tx) =>
      followBatched(tx, viewer, target, rt.ids.next(), new Date(), (mutual) => rt.outbox.statement(FollowCreatedSchema, { followerId: viewer, followeeId: target, mutual }, "@oasis_created = 1")),
    );
    return r.blocked ? undefined : { state: FollowState.FOLLOWING, flags: r.flags };
  }

  /** Removes follower -> followee with counts and event; false if there was none. */
  async function unfollow(tx: Tx, followerId: bigint, followeeId: bigint, reason: FollowRemovedReason): Promise<boolean> {
    if (!(await deleteFollow(tx, followerId, followeeId))) return false;
    await addToCounts(tx, followerId, followeeId, -1);
    await rt.outbox.add(tx, FollowRemovedSchema, { followerId, followeeId, reason });
    return true;
  }

  /** Checks that the caller may see `owner`'s lists. */
  async function checkListVisible(owner: bigint): Promise<void> {
    const viewer = caller();
    const ownerPrivate = await requireAccount(owner);
    const flags = viewer.userId !== null ? (await relationsOf(viewer.userId, [owner])).get(owner) : undefined;
    const visibility = listVisibility(viewer, owner, ownerPrivate, flags);
    if (visibility === "blocked") throw errors.permissionDenied(ErrorReason.BLOCKED, "this user's lists are not available to you");
    if (visibility === "private") {
      throw errors.permissionDenied(ErrorReason.PRIVATE_ACCOUNT, "this account is private; follow it to see its lists", { user_id: owner });
    }
  }

  /**
   * A page of a follow list, newest first, keyset on the edge id: from the cached list,
   * or from MySQL when the list is too long to cache. Follow times come from the edge
   * ids (time-ordered, kit/ids.ts).
   */
  async function listPage(kind: "followers" | "following" | "mutual", owner: bigint, size: number, token: string) {
    await checkListVisible(owner);
    const scope = `${kind}:${owner}`;
    const limit = pageSize(size, 50, 1000);
    const before = decodePageToken(scope, token)?.[0] as bigint | undefined;
    let rows: Array<{ edgeId: bigint; userId: bigint; createdMs: number }>;
    if (kind === "mutual") {
      const [followers, following] = await Promise.all([ctx.cache.list("followers", owner), ctx.cache.list("following", owner)]);
      if (followers && following) {
        const followEdge = new Map(following.page(undefined, following.length).map((e) => [e.userId, e.edgeId]));
        rows = [];
        for (const e of followers.page(before, followers.length)) {
          const back = followEdge.get(e.userId);
          if (back === undefined) continue;
          rows.push({ edgeId: e.edgeId, userId: e.userId, createdMs: Math.max(idTimeMs(e.edgeId), idTimeMs(back)) });
          if (rows.length > limit) break;
        }
      } else {
        rows = (await mutualPage(rt.db, owner, before, limit + 1)).map((r) => ({ edgeId: r.id, userId: r.userId, createdMs: r.createdAt.getTime() }));
      }
    } else {
      const list = await ctx.cache.list(kind, owner);
      rows = list
        ? list.page(before, limit + 1).map((e) => ({ ...e, createdMs: idTimeMs(e.edgeId) }))
        : (await edgePage(rt.db, kind, owner, before, limit + 1)).map((r) => ({
            edgeId: r.id,
            userId: r.userId,
            createdMs: r.createdAt.getTime(),
          }));
    }
    const page = rows.slice(0, limit);
    return {
      users: page.map((r) => create(FollowEdgeSchema, { userId: r.userId, createTime: timestampFromMs(r.createdMs) })),
      nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.edgeId]) : "",
    };
  }

  return {
    async follow(req) {
      const viewer = me();
      const target = req.userId;
      notSelf(viewer, target);
      const targetPrivate = await requireAccount(target);
      const outcome = !targetPrivate && rt.config.batchedWrites ? await followPublic(viewer, target) : await followInSteps(viewer, target, targetPrivate);
      if (!outcome) throw errors.permissionDenied(ErrorReason.BLOCKED, "you cannot follow this user", { user_id: target });
      await ctx.cache.invalidate([viewer, target]);
      return { state: outcome.state, relationship: toRelationship(target, outcome.flags) };
    },

    async unfollow(req) {
      const viewer = me();
      const target = req.userId;
      notSelf(viewer, target);
      const rel = await rt.tx(async (tx) => {
        await unfollow(tx, viewer, target, FollowRemovedReason.UNFOLLOW);
        await deleteRequest(tx, viewer, target);
        return relationship(viewer, target, tx);
      });
      await ctx.cache.invalidate([viewer, target]);
      return { relationship: rel };
    },

    listFollowers: (req) => listPage("followers", req.userId, req.pageSize, req.pageToken),
    listFollowing: (req) => listPage("following", req.userId, req.pageSize, req.pageToken),
    listMutualFans: (req) => listPage("mutual", req.userId, req.pageSize, req.pageToken),

    async getRelationship(req) {
      return { relationship: toRelationship(req.userId, (await relationsOf(me(), [req.userId])).get(req.userId)) };
    },

    async batchGetRelationships(req) {
      const ids = [...new Set(req.userIds)];
      const flags = await relationsOf(me(), ids);
      return { relationships: ids.map((id) => toRelationship(id, flags.get(id))) };
    },

    async listFollowRequests(req) {
      const target = me();
      const scope = `requests:${target}`;
      const limit = pageSize(req.pageSize, 50, 1000);
      const before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const rows = await requestsPage(rt.db, target, before, limit + 1);
      const page = rows.slice(0, limit);
      return {
        requests: page.map((r) => create(PendingFollowerSchema, { userId: r.userId, createTime: timestampFromDate(r.createdAt) })),
        nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.id]) : "",
      };
    },

    async approveFollowRequest(req) {
      const target = me();
      const requester = req.userId;
      const found = await rt.tx(async (tx) => {
        const had = await deleteRequest(tx, requester, target);
        if (!had) return isFollowing(tx, requester, target); // approved before: idempotent
        if (!(await blockedEitherWayForUpdate(tx, requester, target))) await follow(tx, requester, target);
        return true;
      });
      await ctx.cache.invalidate([target, requester]);
      if (!found) {
        throw errors.notFound(ErrorReason.FOLLOW_REQUEST_NOT_FOUND, "no pending follow request from this user", { user_id: requester });
      }
      return { relationship: await relationship(target, requester) };
    },

    async rejectFollowRequest(req) {
      await rt.tx((tx) => deleteRequest(tx, req.userId, me()));
      await ctx.cache.invalidate([me(), req.userId]);
      return {};
    },

    async block(req) {
      const viewer = me();
      const target = req.userId;
      notSelf(viewer, target);
      await requireAccount(target);
      await rt.tx(async (tx) => {
        await blockedEitherWayForUpdate(tx, viewer, target);
        if (!(await insertBlock(tx, viewer, target, new Date()))) return;
        await unfollow(tx, viewer, target, FollowRemovedReason.BLOCK);
        await unfollow(tx, target, viewer, FollowRemovedReason.BLOCK);
        await deleteRequest(tx, viewer, target);
        await deleteRequest(tx, target, viewer);
        await rt.outbox.add(tx, BlockCreatedSchema, { blockerId: viewer, blockedId: target });
      });
      await ctx.cache.invalidate([viewer, target]);
      return { relationship: await relationship(viewer, target) };
    },

    async unblock(req) {
      const viewer = me();
      const target = req.userId;
      notSelf(viewer, target);
      await rt.tx(async (tx) => {
        if (await deleteBlock(tx, viewer, target)) await rt.outbox.add(tx, BlockRemovedSchema, { blockerId: viewer, blockedId: target });
      });
      await ctx.cache.invalidate([viewer, target]);
      return { relationship: await relationship(viewer, target) };
    },

    async mute(req) {
      const viewer = me();
      const target = req.userId;
      notSelf(viewer, target);
      await requireAccount(target);
      await rt.tx(async (tx) => {
        if (await insertMute(tx, viewer, target, new Date())) await rt.outbox.add(tx, MuteCreatedSchema, { muterId: viewer, mutedId: target });
      });
      await ctx.cache.invalidate([viewer, target]);
      return { relationship: await relationship(viewer, target) };
    },

    async unmute(req) {
      const viewer = me();
      const target = req.userId;
      notSelf(viewer, target);
      await rt.tx(async (tx) => {
        if (await deleteMute(tx, viewer, target)) await rt.outbox.add(tx, MuteRemovedSchema, { muterId: viewer, mutedId: target });
      });
      await ctx.cache.invalidate([viewer, target]);
      return { relationship: await relationship(viewer, target) };
    },

    async getCounts(req) {
      const c = (await ctx.cache.getCounts([req.userId])).get(req.userId)!;
      return { counts: create(GraphCountsSchema, { userId: req.userId, followers: c.followers, following: c.following }) };
    },

    async batchGetCounts(req) {
      const ids = [...new Set(req.userIds)];
      const counts = await ctx.cache.getCounts(ids);
      return { counts: ids.map((id) => create(GraphCountsSchema, { userId: id, ...counts.get(id)! })) };
    },

    async listFollowerIds(req) {
      const scope = `follower-ids:${req.userId}`;
      const limit = pageSize(req.pageSize, 5000, 10_000);
      const before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const list = await ctx.cache.list("followers", req.userId);
      const rows = list
        ? list.page(before, limit + 1).map((e) => ({ id: e.edgeId, userId: e.userId }))
        : await edgePage(rt.db, "followers", req.userId, before, limit + 1);
      const page = rows.slice(0, limit);
      const total = list ? BigInt(list.length) : (await ctx.cache.getCounts([req.userId])).get(req.userId)!.followers;
      return {
        userIds: page.map((r) => r.userId),
        total,
        nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.id]) : "",
      };
    },

    async listFollowingIds(req) {
      const scope = `following-ids:${req.userId}`;
      const limit = pageSize(req.pageSize, 5000, 10_000);
      const after = (decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined) ?? 0n;
      const rows = await followingIds(rt.db, req.userId, after, limit + 1);
      const ids = rows.slice(0, limit);
      return { userIds: ids, nextPageToken: rows.length > limit ? encodePageToken(scope, [ids.at(-1)!]) : "" };
    },
  };
}
