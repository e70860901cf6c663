/**
 * Moderation's outcomes as notifications (oasis.moderation.v1.action_taken): the owner
 * hears of an action on their content or account, why, and how to appeal (or that it
 * was reversed); the users who reported the subject hear the outcome (action taken, or
 * no violation found). Reviewers stay anonymous: the entries have no actor, so the
 * block/mute rules of user-to-user notifications do not apply. Once per event.
 */
import { applyOnce, on } from "#kit/consumer.ts";
import { ActionTakenSchema } from "#gen/oasis/moderation/v1/events_pb.ts";
import { ActionType, SubjectType, type Action } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import { NotificationKind } from "#gen/oasis/notification/v1/notification_pb.ts";
import type { NotificationContext } from "./context.ts";
import { snippet } from "./domain/rules.ts";
import { deliver, type Delivery } from "./store.ts";

const what: Partial<Record<ActionType, string>> = {
  [ActionType.TAKEDOWN]: "was taken down",
  [ActionType.LABEL_SENSITIVE]: "was labelled sensitive",
  [ActionType.SUSPEND_ACCOUNT]: "was suspended",
  [ActionType.WARN]: "got a warning",
};

const noun = (a: Action) =>
  a.subject?.type === SubjectType.USER ? "Your account" : a.subject?.type === SubjectType.COMMENT ? "Your comment" : a.subject?.type === SubjectType.MESSAGE ? "Your message" : "Your post";

/** The deliveries an action_taken makes (exported for tests of the wording). */
export function moderationDeliveries(action: Action, reversed: Action | undefined, reporterIds: readonly bigint[]): Delivery[] {
  const postId = action.subject?.type === SubjectType.POST ? action.subject.id : 0n;
  const base = { actorId: 0n, postId, commentId: action.subject?.type === SubjectType.COMMENT ? action.subject.id : 0n, groupKey: `moderation:${action.actionId}` };
  const out: Delivery[] = [];
  if (action.type === ActionType.REVERSE && reversed && what[reversed.type]) {
    out.push({ ...base, recipientId: action.ownerId, kind: NotificationKind.MODERATION_ACTION, text: snippet(`${noun(reversed)}: the earlier decision (it ${what[reversed.type]}) was reversed. ${action.reason}`.trim()) });
  } else if (what[action.type]) {
    const appeal = action.type === ActionType.WARN ? "" : ` You can appeal: POST /v1/appeals with action_id ${action.actionId}.`;
    out.push({ ...base, recipientId: action.ownerId, kind: NotificationKind.MODERATION_ACTION, text: snippet(`${noun(action)} ${what[action.type]}: ${action.reason || "it breaks the rules"}.${appeal}`) });
  }
  // Reporters hear a reviewer's decision (not the rules' pending-review ones).
  const decided = action.reviewerId !== 0n && (what[action.type] !== undefined || action.type === ActionType.ACKNOWLEDGE);
  if (decided) {
    const text = action.type === ActionType.ACKNOWLEDGE ? "We reviewed what you reported and found no violation." : "We reviewed what you reported and took action. Thank you.";
    for (const r of new Set(reporterIds)) if (r !== 0n && r !== action.ownerId) out.push({ ...base, recipientId: r, kind: NotificationKind.REPORT_OUTCOME, text });
  }
  return out;
}

export function moderationConsumer(ctx: NotificationContext) {
  const name = "notification-moderation";
  return {
    name,
    handlers: [
      on(ActionTakenSchema, async (e, meta) => {
        const deliveries = moderationDeliveries(e.action!, e.reversed, e.reporterIds);
        if (!deliveries.length) return;
        const changed: Array<[bigint, bigint]> = [];
        await applyOnce(ctx.rt.db, name, meta.eventId, async (tx) => {
          for (const d of deliveries) {
            const id = await deliver(tx, d, () => ctx.rt.ids.next());
            if (id !== undefined) changed.push([d.recipientId, id]);
          }
        });
        for (const [recipient, id] of changed) ctx.live.publish(recipient, id);
      }),
    ],
  };
}
