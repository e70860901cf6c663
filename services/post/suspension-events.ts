/**
 * Applies moderation's account suspensions to posts (oasis.moderation.v1.action_taken,
 * SUSPEND_ACCOUNT on a USER, and its REVERSE, which the moderation job also sends when a
 * timed suspension ends). Each suspension in force is a row of `suspensions`; while a
 * user has one, every live post of theirs carries `author_suspended`, so post's readers
 * (GetPost, BatchGetPosts and ListUserPosts for users; search hydrates through them) and
 * the feed's rules (which get the change as post_updated into its read model) drop them,
 * as they do a taken-down post. The flag flips only when the user's state changes (a
 * second suspension or lifting one of two changes nothing), written with the
 * post_updated events (outbox) and the event id (applyOnce) in one transaction.
 */
import { create } from "@bufbuild/protobuf";
import { applyOnce, on } from "#kit/consumer.ts";
import { ActionTakenSchema } from "#gen/oasis/moderation/v1/events_pb.ts";
import { appliedAction } from "../../shared-rules/moderation-action.ts";
import { ActionType, SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import { PostUpdatedSchema } from "#gen/oasis/post/v1/events_pb.ts";
import { PostSchema } from "#gen/oasis/post/v1/post_pb.ts";
import type { PostContext } from "./context.ts";
import { authorPostIds, isSuspended, postsByIds, setSuspension, updateBody } from "./store.ts";

/** Posts read and rewritten per round when a user's suspension flag flips. */
const pageSize = 500;

export function suspensionConsumer(ctx: PostContext) {
  const { rt } = ctx;
  const name = "post-suspensions";
  return {
    name,
    handlers: [
      on(ActionTakenSchema, async (e, meta) => {
        const applied = appliedAction(e, [ActionType.SUSPEND_ACCOUNT], SubjectType.USER);
        if (!applied) return;
        const { action, undo } = applied;
        const userId = applied.subjectId;
        const changed: bigint[] = [];
        await applyOnce(rt.db, name, meta.eventId, async (tx) => {
          const before = await isSuspended(tx, userId, true);
          await setSuspension(tx, userId, action.actionId, undo);
          const after = await isSuspended(tx, userId);
          if (before === after) return;
          let below: bigint | undefined;
          for (;;) {
            const ids = await authorPostIds(tx, userId, below, pageSize);
            for (const { post } of (await postsByIds(tx, ids, true)).values()) {
              if (post.authorSuspended === after) continue;
              const flagged = create(PostSchema, { ...post, authorSuspended: after });
              await updateBody(tx, flagged);
              await rt.outbox.add(tx, PostUpdatedSchema, { post: flagged });
              changed.push(post.postId);
            }
            if (ids.length < pageSize) break;
            below = ids.at(-1);
          }
        });
        rt.outbox.kick();
        if (changed.length) await ctx.reader.invalidate(changed);
      }),
    ],
  };
}
