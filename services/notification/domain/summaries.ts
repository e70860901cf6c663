/** Inbox entries as the app shows them: `summary` made from the actors' handles. */
import type { Notification } from "#gen/oasis/notification/v1/notification_pb.ts";
import type { NotificationContext } from "../context.ts";
import { summarize } from "./rules.ts";

/** Fills in `summary` of each entry from its actors' handles: one identity batch for the whole list. */
export async function withSummaries(ctx: NotificationContext, list: Notification[]): Promise<Notification[]> {
  // Moderation's entries have no actor (0): nobody to look up.
  const actors = [...new Set(list.flatMap((n) => n.actorIds))].filter((a) => a > 0n);
  const handles = new Map<bigint, string>();
  if (actors.length) {
    for (const p of (await ctx.identity.batchGetProfiles({ userIds: actors })).profiles) handles.set(p.userId, p.handle);
  }
  for (const n of list) {
    n.summary = summarize(n.kind, n.actorIds.map((a) => handles.get(a) ?? "someone"), Number(n.actorCount), n.text);
  }
  return list;
}
