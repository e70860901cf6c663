/**
 * Applies moderation's actions on comments (oasis.moderation.v1.action_taken): TAKEDOWN
 * sets the comment's `taken_down` (ListComments and replies drop it, and the post's
 * comment count loses it), a REVERSE of one clears it (and counts it again). The flag and
 * the counter change in one transaction with the event id (applyOnce), so a redelivered
 * event changes nothing; the counter moves only when the flag changed on a comment its
 * author has not deleted; then comment_moderated goes out (outbox, same transaction) so
 * readers holding the count (the feed's read model) drop their copy. Other subjects are
 * not interaction's.
 */
import { applyOnce, on } from "#kit/consumer.ts";
import { CommentModeratedSchema } from "#gen/oasis/interaction/v1/events_pb.ts";
import { ActionTakenSchema } from "#gen/oasis/moderation/v1/events_pb.ts";
import { appliedAction } from "../../shared-rules/moderation-action.ts";
import { ActionType, SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import type { InteractionContext } from "./context.ts";
import { bumpCount, commentById, setCommentTakenDown, type Counts } from "./store.ts";

export function moderationConsumer(ctx: InteractionContext) {
  const name = "interaction-moderation";
  return {
    name,
    handlers: [
      on(ActionTakenSchema, async (e, meta) => {
        const applied = appliedAction(e, [ActionType.TAKEDOWN], SubjectType.COMMENT);
        if (!applied) return;
        const { undo } = applied;
        const commentId = applied.subjectId;
        let changed: { postId: bigint; counts: Counts } | undefined;
        await applyOnce(ctx.rt.db, name, meta.eventId, async (tx) => {
          const c = await commentById(tx, commentId, true);
          if (!c || !(await setCommentTakenDown(tx, commentId, !undo)) || c.deleted) return;
          changed = { postId: c.postId, counts: await bumpCount(tx, c.postId, "comments", undo ? 1 : -1) };
          await ctx.rt.outbox.add(tx, CommentModeratedSchema, { commentId, postId: c.postId, authorId: c.authorId, takenDown: !undo });
        });
        if (changed) {
          ctx.rt.outbox.kick();
          await ctx.counters.publish(changed.postId, changed.counts);
        }
      }),
    ],
  };
}
