/**
 * How the owner of a moderated subject reads moderation's `action_taken` event
 * (oasis.moderation.v1): the action to apply, or for a REVERSE the action it reverses
 * with `undo` set. Identity (suspensions), post (takedowns, labels, suspended authors),
 * interaction (comment takedowns) and search (hidden posts) all apply and undo actions
 * this one way, so a reversal can never be read as a new action by one of them.
 */
import type { ActionTaken } from "#gen/oasis/moderation/v1/events_pb.ts";
import { ActionType, type Action, type SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";

/** An action an owner applies (`undo` false) or takes back (`undo` true). */
export interface AppliedAction {
  readonly action: Action;
  /** The subject's id (post, comment, user or message id, by `subject`). */
  readonly subjectId: bigint;
  readonly undo: boolean;
}

/**
 * The action of `e` (or the one its REVERSE takes back) when it is one of `types` on a
 * subject of type `subject`; undefined for anything else, which is not this owner's.
 */
export function appliedAction(e: ActionTaken, types: readonly ActionType[], subject: SubjectType): AppliedAction | undefined {
  const undo = e.action?.type === ActionType.REVERSE;
  const action = undo ? e.reversed : e.action;
  if (!action || !types.includes(action.type) || action.subject?.type !== subject) return undefined;
  return { action, subjectId: action.subject.id, undo };
}
