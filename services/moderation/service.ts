/** ModerationService: the route modules merged (one file per RPC under routes/). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import type { ModerationContext } from "./context.ts";
import { claimNextReview } from "./routes/claim-next-review.ts";
import { createAppeal } from "./routes/create-appeal.ts";
import { createReport } from "./routes/create-report.ts";
import { getReviewerReport } from "./routes/get-reviewer-report.ts";
import { listOperations } from "./routes/list-operations.ts";
import { getTicket } from "./routes/get-ticket.ts";
import { keywordRules } from "./routes/keyword-rules.ts";
import { releaseReview } from "./routes/release-review.ts";
import { renewLease } from "./routes/renew-lease.ts";
import { takeAction } from "./routes/take-action.ts";

export function moderationService(ctx: ModerationContext): ServiceImpl<typeof ModerationService> {
  return {
    ...createReport(ctx),
    ...getTicket(ctx),
    ...claimNextReview(ctx),
    ...renewLease(ctx),
    ...releaseReview(ctx),
    ...takeAction(ctx),
    ...createAppeal(ctx),
    ...listOperations(ctx),
    ...getReviewerReport(ctx),
    ...keywordRules(ctx),
  };
}
