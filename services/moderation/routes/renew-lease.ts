/** RenewLease: a live lease held by the caller runs lease_seconds from now. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { ErrorReason } from "#gen/oasis/moderation/v1/errors_pb.ts";
import type { ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import type { ModerationContext } from "../context.ts";
import { errors } from "../domain/errors.ts";
import { requireModerator } from "../domain/roles.ts";

export function renewLease(ctx: ModerationContext): Pick<ServiceImpl<typeof ModerationService>, "renewLease"> {
  return {
    async renewLease(req) {
      const me = await requireModerator(ctx.roles);
      const until = await ctx.rt.tx((tx) => ctx.store.renew(tx, req.ticketId, me, req.leaseToken, req.leaseSeconds || ctx.rt.config.leaseSeconds));
      if (!until) throw errors.failedPrecondition(ErrorReason.LEASE_NOT_HELD, "you do not hold this ticket's lease (released, expired or taken)", { ticket_id: req.ticketId });
      return { leaseExpireTime: timestampFromDate(until) };
    },
  };
}
