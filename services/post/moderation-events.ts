/**
 * Applies moderation's actions on posts (oasis.moderation.v1.action_taken): TAKEDOWN sets
 * the post's `taken_down`, LABEL_SENSITIVE adds the "sensitive" label, and a REVERSE of
 * either undoes it. The changed post is written and published as post_updated (outbox)
 * in one transaction, once per event (applyOnce), so the feed's read model and search
 * follow; readers drop taken-down posts (reader.ts). Other subjects are not post's.
 */
import { create } from "@bufbuild/protobuf";
import { applyOnce, on } from "#kit/consumer.ts";
import { ActionTakenSchema } from "#gen/oasis/moderation/v1/events_pb.ts";
import { appliedAction } from "../../shared-rules/moderation-action.ts";
import { ActionType, SubjectType, type Action } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import { PostUpdatedSchema } from "#gen/oasis/post/v1/events_pb.ts";
import { PostSchema, type Post } from "#gen/oasis/post/v1/post_pb.ts";
import type { PostContext } from "./context.ts";
import { postsByIds, updateBody } from "./store.ts";

export const sensitiveLabel = "sensitive";

/** The post after `action` (or its reversal, `undo`); undefined when it changes nothing. */
export function moderated(post: Post, action: Action, undo: boolean): Post | undefined {
  if (action.type === ActionType.TAKEDOWN) {
    return post.takenDown === !undo ? undefined : create(PostSchema, { ...post, takenDown: !undo });
  }
  if (action.type === ActionType.LABEL_SENSITIVE) {
    const has = post.labels.includes(sensitiveLabel);
    if (has === !undo) return undefined;
    return create(PostSchema, { ...post, labels: undo ? post.labels.filter((l) => l !== sensitiveLabel) : [...post.labels, sensitiveLabel] });
  }
  return undefined;
}

export function moderationConsumer(ctx: PostContext) {
  const { rt } = ctx;
  return {
    name: "post-moderation",
    handlers: [
      on(ActionTakenSchema, async (e, meta) => {
        const applied = appliedAction(e, [ActionType.TAKEDOWN, ActionType.LABEL_SENSITIVE], SubjectType.POST);
        if (!applied) return;
        const { action, undo } = applied;
        const postId = applied.subjectId;
        await applyOnce(rt.db, "post-moderation", meta.eventId, async (tx) => {
          const stored = (await postsByIds(tx, [postId], true)).get(postId);
          if (!stored || stored.deleted) return;
          const after = moderated(stored.post, action, undo);
          if (!after) return;
          await updateBody(tx, after);
          await rt.outbox.add(tx, PostUpdatedSchema, { post: after });
        });
        rt.outbox.kick();
        await ctx.reader.invalidate([postId]);
      }),
    ],
  };
}
