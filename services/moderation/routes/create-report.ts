/**
 * CreateReport: fetch the subject as the reporter sees it (its adapter), then file the
 * report in one transaction (domain/tickets.ts: join or open the subject's ticket, once
 * per reporter and round, logged, report_created through the outbox).
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { asService, optionalCall } from "#kit/client.ts";
import { isDuplicateKey } from "#kit/mysql.ts";
import { ErrorReason } from "#gen/oasis/moderation/v1/errors_pb.ts";
import { SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import type { ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import { adapters } from "../adapters/index.ts";
import type { ModerationContext } from "../context.ts";
import { errors } from "../domain/errors.ts";
import type { SubjectRef } from "../domain/model.ts";
import { reachWeight, reportWeight } from "../domain/priority.ts";
import { reportView } from "../domain/present.ts";
import { fileReport } from "../domain/tickets.ts";

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
          const { report, ticket } = await fileReport(ctx, tx, {
            subject,
            content,
            contentType: adapter.contentType,
            points: weight,
            openPoints: reach,
            reporterId: me,
            reasonType: req.reasonType,
            reasonText: req.reasonText,
          });
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
