/**
 * Moderation's takedowns in the index (oasis.moderation.v1.action_taken): a TAKEDOWN of
 * a post sets its `hidden` flag (every query filters `hidden = false`), a REVERSE of one
 * clears it. Setting a flag to a value is idempotent, so redelivery changes nothing.
 * Then `search:writes` is bumped so the request cache drops results computed before.
 */
import { on } from "#kit/consumer.ts";
import { ActionTakenSchema } from "#gen/oasis/moderation/v1/events_pb.ts";
import { appliedAction } from "../../shared-rules/moderation-action.ts";
import { ActionType, SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import type { SearchContext } from "./context.ts";
import { writers } from "./events.ts";

export function moderationConsumer(ctx: SearchContext, w = writers(ctx)) {
  return {
    name: "search-moderation",
    handlers: [
      on(ActionTakenSchema, async (e) => {
        const applied = appliedAction(e, [ActionType.TAKEDOWN], SubjectType.POST);
        if (!applied) return;
        const { undo } = applied;
        await w.apply((x) => x.setPostHidden(applied.subjectId, !undo));
        await ctx.cache.bumpWrites();
      }),
    ],
  };
}
