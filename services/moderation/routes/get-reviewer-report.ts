/**
 * GetReviewerReport: a reviewer's work from the operation log. handled_per_hour = actions
 * in the window / its hours; median_time_to_action_ms over actions that followed the
 * reviewer's own claim of the ticket (a REVERSE from the log needs no claim and is left
 * out of the median); overturn_rate = overturned / decided appeals of their actions.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { ErrorReason } from "#gen/oasis/moderation/v1/errors_pb.ts";
import type { ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import type { ModerationContext } from "../context.ts";
import { errors } from "../domain/errors.ts";
import { requireModerator } from "../domain/roles.ts";

/** Median of a non-empty list (mean of the middle two for an even count); 0 for none. */
export function median(values: readonly number[]): number {
  if (!values.length) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function getReviewerReport(ctx: ModerationContext): Pick<ServiceImpl<typeof ModerationService>, "getReviewerReport"> {
  return {
    async getReviewerReport(req) {
      await requireModerator(ctx.roles);
      const end = req.endTime ? timestampDate(req.endTime) : new Date();
      const start = req.startTime ? timestampDate(req.startTime) : new Date(end.getTime() - 24 * 3600_000);
      if (start >= end) throw errors.invalid(ErrorReason.UNSPECIFIED, [{ field: "start_time", description: "must be before end_time" }]);
      const [times, appeals] = await Promise.all([
        ctx.store.actionTimes(ctx.rt.db, req.reviewerId, start, end),
        ctx.store.appealOutcomes(ctx.rt.db, req.reviewerId),
      ]);
      const hours = (end.getTime() - start.getTime()) / 3600_000;
      const waits = times.filter((t) => t.claimedAt).map((t) => t.actedAt.getTime() - t.claimedAt!.getTime());
      return {
        actions: times.length,
        handledPerHour: times.length / hours,
        medianTimeToActionMs: BigInt(Math.round(median(waits))),
        overturnRate: appeals.decided ? appeals.overturned / appeals.decided : 0,
        appealsDecided: appeals.decided,
      };
    },
  };
}
