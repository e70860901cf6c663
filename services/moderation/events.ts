/**
 * Moderation's events (proto/oasis/moderation/v1/events.proto), all through the outbox
 * in the transaction that made the change: `report_created` (CreateReport) and
 * `action_taken` (TakeAction, REVERSE and the timer's lifts; domain/actions.ts).
 * Consumers: post (takedown/label of posts), identity (suspensions), notification.
 */
export { ActionTakenSchema, ReportCreatedSchema } from "#gen/oasis/moderation/v1/events_pb.ts";
