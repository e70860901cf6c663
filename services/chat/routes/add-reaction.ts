/**
 * AddReaction: one grapheme (BAD_REACTION otherwise), idempotent (the same reaction
 * twice is one), at most 50 per message (REACTION_LIMIT); blocked with the sender ->
 * BLOCKED. A change is logged to every member; event reaction_changed.
 */
import { Code, type ServiceImpl } from "@connectrpc/connect";
import type { Message } from "#gen/oasis/chat/v1/chat_pb.ts";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import { ErrorReason } from "#gen/oasis/chat/v1/errors_pb.ts";
import { ReactionChangedSchema } from "#gen/oasis/chat/v1/events_pb.ts";
import type { ChatContext } from "../context.ts";
import { requireMember, requireNoBlocks } from "../domain/access.ts";
import { errors } from "../domain/errors.ts";
import { withLog } from "../domain/log.ts";
import { messageOf, signMessage } from "../domain/present.ts";
import { maxReactionsPerMessage, validReaction } from "../domain/rules.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

/** Adds or removes the caller's reaction; returns the message with its reactions. */
export async function changeReaction(ctx: ChatContext, convoId: bigint, messageId: bigint, value: string, add: boolean): Promise<Message> {
  const me = callerId();
  if (add && !validReaction(value)) {
    throw errors.invalid(ErrorReason.BAD_REACTION, [{ field: "value", description: "must be exactly one character (one grapheme cluster)" }]);
  }
  await requireMember(ctx, convoId, me);
  const msg = await ctx.store.message(ctx.rt.db, convoId, messageId);
  if (!msg) throw errors.notFound(ErrorReason.MESSAGE_NOT_FOUND, `no message ${messageId} in this convo`, { message_id: messageId });
  if (add && msg.senderId !== me) await requireNoBlocks(ctx, [msg.senderId]);
  await withLog(ctx, async (tx, log) => {
    // Member rows first: the lock order of every chat write (store.ts).
    const members = (await ctx.store.members(tx, convoId, true)).filter((m) => m.active);
    let changed: boolean;
    if (add) {
      const r = await ctx.store.addReaction(tx, messageId, me, value, maxReactionsPerMessage);
      if (r === "full") throw errors.fail(Code.ResourceExhausted, ErrorReason.REACTION_LIMIT, `a message holds at most ${maxReactionsPerMessage} reactions`, { limit: maxReactionsPerMessage });
      changed = r === "added";
    } else changed = await ctx.store.removeReaction(tx, messageId, me, value);
    if (!changed) return;
    const change = { messageId, userId: me, value };
    for (const m of members) log(m.userId, { convoId, event: add ? { case: "reactionAdded", value: change } : { case: "reactionRemoved", value: change } });
    await ctx.rt.outbox.add(tx, ReactionChangedSchema, { convoId, messageId, userId: me, value, added: add, senderId: msg.senderId });
  });
  const reactions = await ctx.store.reactions(ctx.rt.db, [messageId]);
  return signMessage({ key: ctx.rt.config.mediaUrlKey, ttlSeconds: ctx.rt.config.mediaUrlTtlSeconds }, messageOf(msg, reactions.get(messageId)));
}

export function addReaction(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "addReaction"> {
  return {
    async addReaction(req) {
      return { message: await changeReaction(ctx, req.convoId, req.messageId, req.value, true) };
    },
  };
}
