/**
 * From domain events to deliveries, with the rules applied before anything is stored:
 * never about a user's own action; never from someone the recipient blocks or mutes (or
 * who blocks them); mentions and refers only for recipients who may see the post.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { asService, asUser } from "#kit/client.ts";
import { NotificationKind } from "#gen/oasis/notification/v1/notification_pb.ts";
import type { NotificationContext } from "./context.ts";
import type { Delivery } from "./store.ts";

/** Keeps the deliveries whose recipient wants to hear from the actor. */
export async function wanted(ctx: NotificationContext, deliveries: readonly Delivery[]): Promise<Delivery[]> {
  const out: Delivery[] = [];
  for (const d of deliveries) {
    if (d.recipientId === d.actorId || d.recipientId === 0n) continue;
    const rel = (await ctx.graph.getRelationship({ userId: d.actorId }, asUser(ctx.rt.config.meshSecret, d.recipientId))).relationship;
    if (rel?.blocking || rel?.muting || rel?.blockedBy) continue;
    out.push(d);
  }
  return out;
}

/** Whether `userId` may see post `postId` (mentions in followers-only posts, for one). */
export async function maySee(ctx: NotificationContext, userId: bigint, postId: bigint): Promise<boolean> {
  try {
    await ctx.post.getPost({ postId }, asUser(ctx.rt.config.meshSecret, userId));
    return true;
  } catch (err) {
    if (ConnectError.from(err).code === Code.NotFound) return false;
    throw err;
  }
}

/** The author of a post (for refer notifications), or 0 if it is gone. */
export async function authorOf(ctx: NotificationContext, postId: bigint): Promise<bigint> {
  try {
    return (await ctx.post.getPost({ postId }, asService(ctx.rt.config.meshSecret))).post!.authorId;
  } catch (err) {
    if (ConnectError.from(err).code === Code.NotFound) return 0n;
    throw err;
  }
}

/** A snippet for the inbox: the first 140 characters. */
export function snippet(text: string): string {
  const chars = [...text];
  return chars.length > 140 ? `${chars.slice(0, 139).join("")}…` : text;
}

/** Summary text: "reed_7 and 12 others liked your post". */
export function summarize(kind: NotificationKind, handles: readonly string[], actorCount: number, text = ""): string {
  const who = handles[0] ?? "someone";
  const others = actorCount - 1;
  const subject = others <= 0 ? who : others === 1 && handles[1] ? `${who} and ${handles[1]}` : `${who} and ${others} others`;
  switch (kind) {
    case NotificationKind.FOLLOW:
      return `${subject} followed you`;
    case NotificationKind.FOLLOW_REQUEST:
      return `${subject} asked to follow you`;
    case NotificationKind.LIKE:
      return `${subject} liked your post`;
    case NotificationKind.COMMENT:
      return `${subject} commented on your post`;
    case NotificationKind.REPLY:
      return `${subject} replied to your comment`;
    case NotificationKind.MENTION:
      return `${subject} mentioned you`;
    case NotificationKind.REFER:
      return `${subject} shared your post`;
    case NotificationKind.DROPS:
      return `${who} gave you ${text || "drops"}`;
    case NotificationKind.MESSAGE:
      return `${subject} sent you a message`;
    case NotificationKind.MODERATION_ACTION:
    case NotificationKind.REPORT_OUTCOME:
      return text;
    default:
      return subject;
  }
}
