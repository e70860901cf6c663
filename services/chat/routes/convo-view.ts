/** Builds the caller's Convo messages for member rows: members and last messages in one batch each. */
import type { Convo } from "#gen/oasis/chat/v1/chat_pb.ts";
import type { ChatContext } from "../context.ts";
import type { ConvoRow, MemberRow } from "../domain/model.ts";
import { convoOf, messageOf, signMessage } from "../domain/present.ts";

export async function convoViews(ctx: ChatContext, rows: ReadonlyArray<MemberRow & { convo: ConvoRow }>): Promise<Convo[]> {
  const db = ctx.rt.db;
  const ids = rows.map((r) => r.convoId);
  const [members, last] = await Promise.all([
    ctx.store.activeMemberIds(db, ids),
    ctx.store.messagesByIds(db, rows.filter((r) => r.lastMessageId > 0n).map((r) => [r.convoId, r.lastMessageId] as [bigint, bigint])),
  ]);
  const signer = { key: ctx.rt.config.mediaUrlKey, ttlSeconds: ctx.rt.config.mediaUrlTtlSeconds };
  return rows.map((r) => {
    const m = last.get(r.lastMessageId);
    return convoOf(r.convo, r, members.get(r.convoId) ?? [], m ? signMessage(signer, messageOf(m)) : undefined);
  });
}
