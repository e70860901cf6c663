/** GetTicket: a ticket with the current round's reports (first 50) and its content snapshot. */
import type { ServiceImpl } from "@connectrpc/connect";
import { ErrorReason } from "#gen/oasis/moderation/v1/errors_pb.ts";
import type { ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import type { ModerationContext } from "../context.ts";
import { errors } from "../domain/errors.ts";
import { ticketView } from "../domain/present.ts";
import { requireModerator } from "../domain/roles.ts";

export function getTicket(ctx: ModerationContext): Pick<ServiceImpl<typeof ModerationService>, "getTicket"> {
  return {
    async getTicket(req) {
      await requireModerator(ctx.roles);
      const t = await ctx.store.ticket(ctx.rt.db, req.ticketId);
      if (!t) throw errors.notFound(ErrorReason.TICKET_NOT_FOUND, `no ticket ${req.ticketId}`, { ticket_id: req.ticketId });
      return { ticket: ticketView(t, await ctx.store.reports(ctx.rt.db, t.ticketId, t.round, 50), true) };
    },
  };
}
