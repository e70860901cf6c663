/**
 * CreateConvo: a new convo, or the pair's existing 1:1 convo (returned, and brought back
 * if the caller had left it). New convos check blocks (BLOCKED), the recipients' chat
 * settings (RECIPIENT_DISALLOWS) and the caller's daily limit (RATE_LIMITED); members who
 * do not follow the caller get it as a REQUEST; members must exist (BAD_MEMBERS, one
 * identity batch). Groups are idempotent by request_id. A new convo reports the daily
 * limit in RateLimit-* response headers (also on a refusal; kit/rate-limit-headers.ts).
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { idempotentCreate } from "#kit/idempotency.ts";
import { setRateLimitHeaders } from "#kit/rate-limit-headers.ts";
import { MemberStatus } from "#gen/oasis/chat/v1/chat_pb.ts";
import { ChatService, CreateConvoRequestSchema, CreateConvoResponseSchema } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import { ErrorReason } from "#gen/oasis/chat/v1/errors_pb.ts";
import type { ChatContext } from "../context.ts";
import { requireNoBlocks } from "../domain/access.ts";
import { errors } from "../domain/errors.ts";
import { withLog } from "../domain/log.ts";
import { convoOf } from "../domain/present.ts";
import { takeRate } from "../domain/rate-limit.ts";
import { allowsIncoming, initialStatus } from "../domain/rules.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";
import { convoViews } from "./convo-view.ts";

const dayMs = 86_400_000;

export function createConvo(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "createConvo"> {
  const { rt, store } = ctx;

  async function view(convoId: bigint, me: bigint) {
    const row = await store.member(rt.db, convoId, me);
    return create(CreateConvoResponseSchema, { convo: (await convoViews(ctx, [row!]))[0] });
  }

  /** The existing 1:1 convo, rejoined if the caller had left it. */
  async function existing(convoId: bigint, me: bigint, other: bigint) {
    await requireNoBlocks(ctx, [other]);
    const row = await store.member(rt.db, convoId, me);
    if (row && !row.active) {
      await withLog(ctx, async (tx, log) => {
        const locked = (await store.members(tx, convoId, true)).find((m) => m.userId === me)!;
        if (locked.active) return;
        const latest = await store.latestMessageId(tx, convoId);
        await store.updateMember(tx, convoId, me, { active: true, status: MemberStatus.ACCEPTED, readMessageId: latest, unreadCount: 0 });
        const members = (await store.members(tx, convoId)).filter((m) => m.active).map((m) => m.userId);
        const convo = (await store.convo(tx, convoId))!;
        log(me, { convoId, event: { case: "convoCreated", value: convoOf(convo, { ...locked, active: true, status: MemberStatus.ACCEPTED, readMessageId: latest, unreadCount: 0 }, members, undefined) } });
      });
    }
    return view(convoId, me);
  }

  return {
    async createConvo(req, handler) {
      const me = callerId();
      const others = req.memberIds;
      if (others.includes(me)) {
        throw errors.invalid(ErrorReason.BAD_MEMBERS, [{ field: "member_ids", description: "lists the other members; you are added yourself" }]);
      }
      const isGroup = others.length > 1;
      if (!isGroup) {
        const found = await store.pairConvo(rt.db, me, others[0]!);
        if (found) return existing(found, me, others[0]!);
      }
      const once = idempotentCreate({ scope: "CreateConvo", callerId: me, requestId: isGroup ? req.requestId : "" }, CreateConvoRequestSchema, req, CreateConvoResponseSchema);
      const replay = await once.replay(rt.db);
      if (replay) return view(replay.convo!.convoId, me);
      const known = new Set((await ctx.identity.batchGetProfiles({ userIds: [...others] })).profiles.map((p) => p.userId));
      const unknown = others.find((id) => !known.has(id));
      if (unknown !== undefined) throw errors.invalid(ErrorReason.BAD_MEMBERS, [{ field: "member_ids", description: `user ${unknown} does not exist` }]);
      const rels = await requireNoBlocks(ctx, others);
      const settings = await store.allowIncoming(rt.db, others);
      for (const id of others) {
        if (!allowsIncoming(settings.get(id), rels.get(id))) {
          throw errors.permissionDenied(ErrorReason.RECIPIENT_DISALLOWS, "a member does not take new convos from you", { user_id: id });
        }
      }
      setRateLimitHeaders(handler.responseHeader, await takeRate(rt.redis, "convos", me, rt.config.convosPerDay, dayMs));
      const convo = { convoId: rt.ids.next(), isGroup, createdBy: me, createdAt: new Date() };
      const members = [{ userId: me, status: MemberStatus.ACCEPTED }, ...others.map((id) => ({ userId: id, status: initialStatus(rels.get(id)) }))];
      const ids = members.map((m) => m.userId).sort((a, b) => (a < b ? -1 : 1));
      const made = await withLog(ctx, async (tx, log) => {
        const { response } = await once.run(tx, async () => {
          if (!(await store.insertConvo(tx, convo, members))) return create(CreateConvoResponseSchema, {});
          for (const m of members) {
            const row = { convoId: convo.convoId, userId: m.userId, status: m.status, muted: false, active: true, readMessageId: 0n, unreadCount: 0, activityId: convo.convoId, lastMessageId: 0n };
            log(m.userId, { convoId: convo.convoId, event: { case: "convoCreated", value: convoOf(convo, row, ids, undefined) } });
          }
          return create(CreateConvoResponseSchema, { convo: convoOf(convo, { convoId: convo.convoId, userId: me, status: MemberStatus.ACCEPTED, muted: false, active: true, readMessageId: 0n, unreadCount: 0, activityId: convo.convoId, lastMessageId: 0n }, ids, undefined) });
        });
        return response;
      });
      // Lost a race for the pair's 1:1 convo: the winner's is the one.
      if (!made.convo) return existing((await store.pairConvo(rt.db, me, others[0]!))!, me, others[0]!);
      return made;
    },
  };
}
