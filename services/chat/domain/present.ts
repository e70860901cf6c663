/**
 * Rows -> API messages for one reader. Image URLs are signed here, per read, for
 * `OASIS_CHAT_MEDIA_URL_TTL_SECONDS`: only members ever receive a message, so only they
 * get URLs, and a URL names one image (kit/signed-url.ts), so it opens nothing else.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { signPath } from "#kit/signed-url.ts";
import { ChatImageSchema, ConvoSchema, MessageSchema, ReactionSchema, type Convo, type LogEntry, type Message } from "#gen/oasis/chat/v1/chat_pb.ts";
import type { ConvoRow, MemberRow, MessageRow } from "./model.ts";

export interface Signer {
  readonly key: string | undefined;
  readonly ttlSeconds: number;
}

/** A message row as the API message, images without URLs (for logs and events). */
export function messageOf(m: MessageRow, reactions: ReadonlyArray<{ userId: bigint; value: string }> = []): Message {
  return create(MessageSchema, {
    messageId: m.messageId,
    convoId: m.convoId,
    senderId: m.senderId,
    text: m.text,
    media: m.media.map((i) => create(ChatImageSchema, { mediaId: i.mediaId, width: i.width, height: i.height, blurhash: i.blurhash })),
    replyToMessageId: m.replyToMessageId,
    reactions: reactions.map((r) => create(ReactionSchema, r)),
    createTime: timestampFromDate(m.createdAt),
  });
}

/** Fills in signed image URLs (in place) for a reader; returns the message. */
export function signMessage(signer: Signer, msg: Message, nowMs = Date.now()): Message {
  if (!msg.media.length || !signer.key) return msg;
  const exp = Math.floor(nowMs / 1000) + signer.ttlSeconds;
  for (const img of msg.media) {
    img.thumbUrl = signPath(signer.key, `/media/${img.mediaId}/thumb`, exp);
    img.feedUrl = signPath(signer.key, `/media/${img.mediaId}/feed`, exp);
    img.origUrl = signPath(signer.key, `/media/${img.mediaId}/orig`, exp);
    img.urlExpireTime = timestampFromMs(exp * 1000);
  }
  return msg;
}

/** A log entry for its reader: message images signed. */
export function signEntry(signer: Signer, e: LogEntry): LogEntry {
  if (e.event.case === "messageCreated") signMessage(signer, e.event.value);
  if (e.event.case === "convoCreated" && e.event.value.lastMessage) signMessage(signer, e.event.value.lastMessage);
  return e;
}

/** The caller's view of a convo. */
export function convoOf(convo: ConvoRow, me: MemberRow, memberIds: readonly bigint[], last: Message | undefined): Convo {
  return create(ConvoSchema, {
    convoId: convo.convoId,
    memberIds: [...memberIds],
    group: convo.isGroup,
    status: me.status,
    muted: me.muted,
    unreadCount: BigInt(me.unreadCount),
    lastMessage: last,
    createTime: timestampFromDate(convo.createdAt),
    activityId: me.activityId,
    readMessageId: me.readMessageId,
  });
}
