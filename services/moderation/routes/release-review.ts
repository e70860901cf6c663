/**
 * ReleaseReview: the caller's live lease ends and the ticket goes back to its queue.
 * Releasing a lease that already ended is a no-op; one another reviewer holds now is
 * LEASE_NOT_HELD.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { ErrorReason } from "#gen/oasis/moderation/v1/errors_pb.ts";
import type { ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import type { ModerationContext } from "../context.ts";
import { errors } from "../domain/errors.ts";
import { effectiveState } from "../domain/present.ts";
import { requireModerator } from "../domain/roles.ts";
import { ReviewState } from "#gen/oasis/moderation/v1/moderation_pb.ts";

export function releaseReview(ctx: ModerationContext): Pick<ServiceImpl<typeof ModerationService>, "releaseReview"> {
  return {
    async releaseReview(req) {
      const me = await requireModerator(ctx.roles);
      await ctx.rt.tx(async (tx) => {
        const t = await ctx.store.ticket(tx, req.ticketId, true);
        if (!t) throw errors.notFound(ErrorReason.TICKET_NOT_FOUND, `no ticket ${req.ticketId}`, { ticket_id: req.ticketId });
        if (await ctx.store.release(tx, req.ticketId, me, req.leaseToken)) {
          await ctx.store.appendOperation(tx, { opId: ctx.rt.ids.next(), actorId: me, kind: "release", ticketId: t.ticketId, actionId: 0n, detail: "{}" });
          return;
        }
        if (effectiveState(t) === ReviewState.IN_REVIEW && t.holderId !== me) {
          throw errors.failedPrecondition(ErrorReason.LEASE_NOT_HELD, "another reviewer holds this ticket", { ticket_id: req.ticketId });
        }
      });
      return {};
    },
  };
}
