/**
 * SendMessage. Checks before the transaction: membership (NOT_A_MEMBER), text length
 * (TEXT_TOO_LONG, EMPTY_MESSAGE), the sender's rate (RATE_LIMITED), blocks with any
 * member (BLOCKED), the reply target (MESSAGE_NOT_FOUND) and the images: each must be
 * the sender's own upload to chat-images (BAD_MEDIA). One transaction then stores the
 * message, bumps the others' unread counters, appends to every member's log and adds
 * message_sent to the outbox, under the (sender, request_id) idempotency key: a retry
 * after a crash or a lost reply returns the stored message and stores nothing.
 * The sender's per-minute limit is reported in RateLimit-* response headers (also on a
 * refusal; kit/rate-limit-headers.ts), which the edge passes on to the app.
 * A 1:1 convo the other member left comes back to them as a request; a sender whose
 * status was REQUEST accepts the convo by writing.
 */
import { clone, create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { fingerprint, idempotent, storedResponse } from "#kit/idempotency.ts";
import { setRateLimitHeaders } from "#kit/rate-limit-headers.ts";
import { MemberStatus, MessageSchema } from "#gen/oasis/chat/v1/chat_pb.ts";
import { ChatService, SendMessageRequestSchema, SendMessageResponseSchema } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import { ErrorReason } from "#gen/oasis/chat/v1/errors_pb.ts";
import { MessageSentSchema } from "#gen/oasis/chat/v1/events_pb.ts";
import type { ChatContext } from "../context.ts";
import { requireMember, requireNoBlocks } from "../domain/access.ts";
import { errors } from "../domain/errors.ts";
import { withLog } from "../domain/log.ts";
import type { StoredImage } from "../domain/model.ts";
import { convoOf, messageOf, signMessage } from "../domain/present.ts";
import { takeRate } from "../domain/rate-limit.ts";
import { allowsIncoming, maxTextGraphemes, textTooLong } from "../domain/rules.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

/** The bucket chat images must be uploaded to (a private bucket in media's policy). */
export const chatBucket = "chat-images";

export function sendMessage(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "sendMessage"> {
  const { rt, store } = ctx;
  const signer = { key: rt.config.mediaUrlKey, ttlSeconds: rt.config.mediaUrlTtlSeconds };

  async function images(me: bigint, ids: readonly bigint[]): Promise<StoredImage[]> {
    if (!ids.length) return [];
    if (!signer.key) throw errors.failedPrecondition(ErrorReason.MEDIA_DISABLED, "chat images are not configured here (no OASIS_MEDIA_URL_KEY)");
    const found = new Map((await ctx.media().batchGetMedia({ mediaIds: [...ids] })).media.map((m) => [m.id, m]));
    return ids.map((id, i) => {
      const m = found.get(id);
      if (!m || m.ownerId !== me || m.bucket !== chatBucket) {
        throw errors.invalid(ErrorReason.BAD_MEDIA, [{ field: `media_ids[${i}]`, description: `is not your own upload to ${chatBucket}` }]);
      }
      return { mediaId: m.id, width: m.width, height: m.height, blurhash: m.blurhash };
    });
  }

  return {
    async sendMessage(req, handler) {
      const me = callerId();
      const key = { scope: "SendMessage", callerId: me, requestId: req.requestId };
      const print = fingerprint(SendMessageRequestSchema, req);
      const replay = await storedResponse(rt.db, key, print, SendMessageResponseSchema);
      if (replay) return { message: signMessage(signer, replay.message!) };
      const long = textTooLong(req.text);
      if (long !== undefined) {
        throw errors.invalid(ErrorReason.TEXT_TOO_LONG, [{ field: "text", description: `is ${long} characters; at most ${maxTextGraphemes}` }]);
      }
      if (req.text.trim() === "" && req.mediaIds.length === 0) {
        throw errors.invalid(ErrorReason.EMPTY_MESSAGE, [{ field: "text", description: "a message needs text or media" }]);
      }
      const { members } = await requireMember(ctx, req.convoId, me);
      const convo = (await store.convo(rt.db, req.convoId))!;
      // In a 1:1 convo the other member counts even after leaving (writing brings them back).
      const others = members.filter((m) => m.userId !== me && (m.active || !convo.isGroup));
      setRateLimitHeaders(handler.responseHeader, await takeRate(rt.redis, "messages", me, rt.config.messagesPerMinute, 60_000));
      const rels = await requireNoBlocks(ctx, others.map((m) => m.userId));
      const returning = others.filter((m) => !m.active);
      if (returning.length) {
        const settings = await store.allowIncoming(rt.db, returning.map((m) => m.userId));
        for (const m of returning) {
          if (!allowsIncoming(settings.get(m.userId), rels.get(m.userId))) {
            throw errors.permissionDenied(ErrorReason.RECIPIENT_DISALLOWS, "the other member left and does not take new convos from you", { user_id: m.userId });
          }
        }
      }
      if (req.replyToMessageId && !(await store.message(rt.db, req.convoId, req.replyToMessageId))) {
        throw errors.notFound(ErrorReason.MESSAGE_NOT_FOUND, `no message ${req.replyToMessageId} in this convo`, { message_id: req.replyToMessageId });
      }
      const media = await images(me, req.mediaIds);

      const { response } = await withLog(ctx, (tx, log) =>
        idempotent(tx, key, print, SendMessageResponseSchema, async () => {
          const locked = await store.members(tx, req.convoId, true);
          const mine = locked.find((m) => m.userId === me);
          if (!mine?.active) throw errors.notFound(ErrorReason.NOT_A_MEMBER, `no convo ${req.convoId} of yours`, { convo_id: req.convoId });
          const active = new Set(locked.filter((m) => m.active).map((m) => m.userId));
          const latest = !convo.isGroup && active.size < locked.length ? await store.latestMessageId(tx, req.convoId) : 0n;
          for (const m of locked) {
            if (m.active || convo.isGroup) continue;
            await store.updateMember(tx, req.convoId, m.userId, { active: true, status: MemberStatus.REQUEST, readMessageId: latest, unreadCount: 0 });
            active.add(m.userId);
            const back = { ...m, active: true, status: MemberStatus.REQUEST, readMessageId: latest, unreadCount: 0 };
            log(m.userId, { convoId: req.convoId, event: { case: "convoCreated", value: convoOf(convo, back, locked.map((x) => x.userId), undefined) } });
          }
          if (mine.status === MemberStatus.REQUEST) {
            await store.updateMember(tx, req.convoId, me, { status: MemberStatus.ACCEPTED });
            for (const u of active) log(u, { convoId: req.convoId, event: { case: "acceptedUserId", value: me } });
          }
          const row = { convoId: req.convoId, messageId: rt.ids.next(), senderId: me, text: req.text, media, replyToMessageId: req.replyToMessageId, createdAt: new Date() };
          await store.insertMessage(tx, row);
          await store.recordMessage(tx, row);
          const message = messageOf(row);
          for (const u of active) log(u, { convoId: req.convoId, event: { case: "messageCreated", value: message } });
          const notify = locked.filter((m) => m.userId !== me && active.has(m.userId) && !m.muted).map((m) => m.userId);
          await rt.outbox.add(tx, MessageSentSchema, { message, notifyUserIds: notify, memberIds: [...active] });
          return create(SendMessageResponseSchema, { message });
        }),
      );
      return { message: signMessage(signer, clone(MessageSchema, response.message!)) };
    },
  };
}
