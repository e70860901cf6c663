/**
 * Moderation's events (proto/oasis/moderation/v1/events.proto), all through the outbox
 * in the transaction that made the change: `report_created` (CreateReport, the rules)
 * and `action_taken` (TakeAction, REVERSE, the rules' auto-label/hide and the timer's
 * lifts; domain/actions.ts). Consumers: post (takedown/label of posts), search (hidden
 * flag), identity (suspensions).
 *
 * Consumed here: new content for the keyword rules (domain/rules.ts), one durable per
 * domain stream: post_created/post_updated (captions), comment_created (comments),
 * message_sent (chat messages). Each event is applied once (applyOnce).
 */
import { applyOnce, on, type EventMeta } from "#kit/consumer.ts";
import { MessageSentSchema } from "#gen/oasis/chat/v1/events_pb.ts";
import { CommentCreatedSchema } from "#gen/oasis/interaction/v1/events_pb.ts";
import { SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import { PostCreatedSchema, PostUpdatedSchema } from "#gen/oasis/post/v1/events_pb.ts";
import type { Post } from "#gen/oasis/post/v1/post_pb.ts";
import { languageOf } from "./adapters/adapter.ts";
import type { ModerationContext } from "./context.ts";
import type { SubjectRef } from "./domain/model.ts";
import { applyRules, matchRules, RuleSet } from "./domain/rules.ts";

export { ActionTakenSchema, ReportCreatedSchema } from "#gen/oasis/moderation/v1/events_pb.ts";

export function ruleConsumers(ctx: ModerationContext) {
  const rules = new RuleSet(ctx.rt.db);
  const check = (name: string) => async (meta: EventMeta, subject: SubjectRef, ownerId: bigint, text: string, mediaIds: bigint[]) => {
    const matched = matchRules(await rules.asOf(meta.occurredAtMs), text);
    if (!matched.length) return;
    await applyOnce(ctx.rt.db, name, meta.eventId, (tx) => applyRules(ctx, tx, subject, { ownerId, text, mediaIds, language: languageOf(text), gone: false }, matched));
    ctx.rt.outbox.kick();
  };
  const post = check("moderation-rules-post");
  const onPost = (p: Post, meta: EventMeta) => post(meta, { type: SubjectType.POST, id: p.postId, parentId: 0n }, p.authorId, p.caption, p.media.map((m) => m.id));
  const comment = check("moderation-rules-interaction");
  const message = check("moderation-rules-chat");
  return [
    {
      name: "moderation-rules-post",
      handlers: [on(PostCreatedSchema, async (e, m) => onPost(e.post!, m)), on(PostUpdatedSchema, async (e, m) => onPost(e.post!, m))],
    },
    {
      name: "moderation-rules-interaction",
      handlers: [
        on(CommentCreatedSchema, async (e, m) => comment(m, { type: SubjectType.COMMENT, id: e.comment!.commentId, parentId: e.comment!.postId }, e.comment!.authorId, e.comment!.text, [])),
      ],
    },
    {
      name: "moderation-rules-chat",
      handlers: [
        on(MessageSentSchema, async (e, m) =>
          message(m, { type: SubjectType.MESSAGE, id: e.message!.messageId, parentId: e.message!.convoId }, e.message!.senderId, e.message!.text, e.message!.media.map((i) => i.mediaId)),
        ),
      ],
    },
  ];
}
