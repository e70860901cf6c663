/**
 * ClaimNextReview: the best claimable ticket of the queue, leased to the caller (store.ts
 * `claim`: FOR UPDATE SKIP LOCKED at READ COMMITTED, so 20 claimers take 20 different
 * rows without waiting; design note 23). The claim is logged in the same transaction.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { withTransaction } from "#kit/mysql.ts";
import { ErrorReason } from "#gen/oasis/moderation/v1/errors_pb.ts";
import type { ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import type { ModerationContext } from "../context.ts";
import { errors } from "../domain/errors.ts";
import { ticketView } from "../domain/present.ts";
import { parseQueue } from "../domain/queue.ts";
import { isAdmin, requireModerator } from "../domain/roles.ts";
import { newLeaseToken } from "../store.ts";

export function claimNextReview(ctx: ModerationContext): Pick<ServiceImpl<typeof ModerationService>, "claimNextReview"> {
  return {
    async claimNextReview(req) {
      const me = await requireModerator(ctx.roles);
      const queue = parseQueue(req.queue, me);
      if (queue.escalated && !(await isAdmin(ctx.roles, me))) throw errors.permissionDenied(ErrorReason.NOT_ADMIN, "the escalated queue is for admins");
      const leaseSeconds = req.leaseSeconds || ctx.rt.config.leaseSeconds;
      const token = newLeaseToken();
      const claimed = await withTransaction(
        ctx.rt.db,
        async (tx) => {
          const id = await ctx.store.claim(tx, queue, me, token, leaseSeconds);
          if (id === undefined) return undefined;
          await ctx.store.appendOperation(tx, { opId: ctx.rt.ids.next(), actorId: me, kind: "claim", ticketId: id, actionId: 0n, detail: JSON.stringify({ queue: req.queue, lease_seconds: leaseSeconds }) });
          const t = (await ctx.store.ticket(tx, id))!;
          return { t, reports: await ctx.store.reports(tx, id, t.round, 50) };
        },
        { readCommitted: true },
      );
      if (!claimed) return {};
      return { ticket: ticketView(claimed.t, claimed.reports, true), leaseToken: token };
    },
  };
}
