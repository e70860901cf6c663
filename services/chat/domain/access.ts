/**
 * Who may touch a convo: only its current members. A non-member gets NOT_FOUND with
 * reason NOT_A_MEMBER whether or not the convo exists (nothing to learn by probing ids).
 * Blocks are asked of graph as the sender (BatchGetRelationships, one call for all
 * other members) and refuse in either direction.
 */
import { ErrorReason } from "#gen/oasis/chat/v1/errors_pb.ts";
import type { Relationship } from "#gen/oasis/graph/v1/graph_pb.ts";
import type { ChatContext } from "../context.ts";
import { errors } from "./errors.ts";
import type { MemberRow } from "./model.ts";
import { blocked } from "./rules.ts";

/** The convo's members, after checking `userId` is an active one. */
export async function requireMember(ctx: ChatContext, convoId: bigint, userId: bigint): Promise<{ me: MemberRow; members: MemberRow[] }> {
  const members = await ctx.store.members(ctx.rt.db, convoId);
  const me = members.find((m) => m.userId === userId && m.active);
  if (!me) throw errors.notFound(ErrorReason.NOT_A_MEMBER, `no convo ${convoId} of yours`, { convo_id: convoId });
  return { me, members };
}

/** Relationships from the caller (the current call's user) to `others`, by user id. */
export async function relationships(ctx: ChatContext, others: readonly bigint[]): Promise<Map<bigint, Relationship>> {
  if (!others.length) return new Map();
  const res = await ctx.graph.batchGetRelationships({ userIds: [...others] });
  return new Map(res.relationships.map((r) => [r.userId, r]));
}

/** Throws BLOCKED when the caller and any of `others` block each other. */
export async function requireNoBlocks(ctx: ChatContext, others: readonly bigint[]): Promise<Map<bigint, Relationship>> {
  const rels = await relationships(ctx, others);
  for (const id of others) {
    if (blocked(rels.get(id))) throw errors.permissionDenied(ErrorReason.BLOCKED, "a block stands between you and a member", { user_id: id });
  }
  return rels;
}
