/**
 * CreateReport: fetch the subject as the reporter sees it (its adapter), then in one
 * transaction join the subject's ticket (new, reopened after CLOSED, or the open one),
 * record the report once per reporter and round, append to the operation log and
 * publish report_created through the outbox.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { asService, optionalCall } from "#kit/client.ts";
import { isDuplicateKey } from "#kit/mysql.ts";
import { ErrorReason } from "#gen/oasis/moderation/v1/errors_pb.ts";
import { ReportCreatedSchema } from "#gen/oasis/moderation/v1/events_pb.ts";
import { ReviewState, SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import type { ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import { adapters } from "../adapters/index.ts";
import type { ModerationContext } from "../context.ts";
import { errors } from "../domain/errors.ts";
import type { ReportRow, SubjectRef } from "../domain/model.ts";
import { reachWeight, reportWeight } from "../domain/priority.ts";
import { reportView } from "../domain/present.ts";

export function createReport(ctx: ModerationContext): Pick<ServiceImpl<typeof ModerationService>, "createReport"> {
  return {
    async createReport(req) {
      const me = currentCaller().userId!;
      const s = req.subject!;
      const adapter = adapters.get(s.type);
      if (!adapter || s.id <= 0n) {
        throw errors.invalid(ErrorReason.UNSPECIFIED, [{ field: "subject", description: "needs a type (post, comment, user, message) and an id > 0" }]);
      }
      const subject: SubjectRef = { type: s.type, id: s.id, parentId: s.parentId };
      const content = await adapter.fetch(ctx, subject);
      if (!content) throw errors.notFound(ErrorReason.SUBJECT_NOT_FOUND, "nothing to report there, or you cannot see it", { subject_id: s.id });
      if (content.ownerId === me) throw errors.invalid(ErrorReason.SELF_REPORT, [{ field: "subject", description: "is yours; you cannot report yourself" }]);
      const [me_, counts] = await Promise.all([
        ctx.identity.batchGetProfiles({ userIds: [me] }, asService()),
        optionalCall(ctx.graph.getCounts({ userId: content.ownerId }, asService()), undefined),
      ]);
      const created = me_.profiles[0]?.createTime;
      const weight = reportWeight(created ? timestampMs(created) : undefined);
      const reach = reachWeight(counts?.counts?.followers ?? 0n);

      const attempt = () =>
        ctx.rt.tx(async (tx) => {
          let ticket = await ctx.store.ticketBySubject(tx, subject);
          let opened = false;
          if (!ticket) {
            const ticketId = ctx.rt.ids.next();
            await ctx.store.insertTicket(tx, { ticketId, subject, content, contentType: adapter.contentType, priority: weight + reach });
            opened = true;
          } else if (ticket.state === ReviewState.CLOSED) {
            await ctx.store.reopenTicket(tx, ticket.ticketId, content, weight + reach);
            opened = true;
          }
          ticket = (await ctx.store.ticketBySubject(tx, subject))!;
          const prior = opened ? undefined : await ctx.store.reportBy(tx, ticket.ticketId, ticket.round, me);
          if (prior) return { report: prior, ticketId: ticket.ticketId };
          if (!opened) await ctx.store.addToTicket(tx, ticket.ticketId, weight);
          const report: ReportRow = await ctx.store.insertReport(tx, {
            reportId: ctx.rt.ids.next(),
            ticketId: ticket.ticketId,
            round: ticket.round,
            reporterId: me,
            reasonType: req.reasonType,
            reasonText: req.reasonText,
          });
          await ctx.store.appendOperation(tx, {
            opId: ctx.rt.ids.next(),
            actorId: me,
            kind: "report",
            ticketId: ticket.ticketId,
            actionId: 0n,
            detail: JSON.stringify({ reason_type: req.reasonType, reason_text: req.reasonText, reopened: opened && ticket.round > 1 }),
          });
          await ctx.rt.outbox.add(tx, ReportCreatedSchema, { report: reportView(report, subject) });
          return { report, ticketId: ticket.ticketId };
        });
      let out;
      try {
        out = await attempt();
      } catch (err) {
        // Two first reports of one subject at once: the loser's ticket insert collides; join the winner's.
        if (!isDuplicateKey(err, "tickets_subject")) throw err;
        out = await attempt();
      }
      return { report: reportView(out.report, subject), sharedWithReviewers: s.type === SubjectType.MESSAGE };
    },
  };
}
