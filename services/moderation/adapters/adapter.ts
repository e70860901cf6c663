/**
 * How a content type plugs into moderation: one adapter per SubjectType.
 * - `fetch` reads the subject as the current caller (the reporter, forwarded by the kit)
 *   sees it, when the report is filed: the snapshot is what reviewers review, so
 *   evidence outlives a deletion and a chat message is shared only by a member's report.
 * - `actions` lists what may be done to it; applying and reversing is the owning
 *   service's job, on the `oasis.moderation.v1.action_taken` event (post hides or labels
 *   posts, search hides them, identity suspends accounts): the adapter names
 *   the owner so the design stays one event, many consumers.
 * A new content type is one file here and one consumer in its owning service.
 */
import { ActionType, type SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import type { ModerationContext } from "../context.ts";
import type { Content, SubjectRef } from "../domain/model.ts";

export interface ContentAdapter {
  readonly type: SubjectType;
  /** Queue prefix and the name users see ("post", "comment", "user", "message"). */
  readonly contentType: string;
  /** The mesh service that applies and reverses actions on it. */
  readonly owner: string;
  /** Actions besides the ones every type takes (WARN, ACKNOWLEDGE, ESCALATE, REVERSE). */
  readonly actions: ReadonlySet<ActionType>;
  /** The subject's content as the caller sees it; undefined when missing or hidden from them. */
  fetch(ctx: ModerationContext, subject: SubjectRef): Promise<Content | undefined>;
}

/** Every type takes these: they change nothing in the owning service. */
export const commonActions: ReadonlySet<ActionType> = new Set([ActionType.WARN, ActionType.ACKNOWLEDGE, ActionType.ESCALATE, ActionType.REVERSE]);

/** "zh" when the text has Han characters, else "en" (the two languages of the demo data). */
export function languageOf(text: string): string {
  return /\p{Script=Han}/u.test(text) ? "zh" : "en";
}
