/**
 * Chat's rules, as pure functions of what the use cases looked up: who may write to
 * whom (blocks, the recipient's chat setting), where a new convo lands (Requests unless
 * the recipient follows the sender: Instagram Direct's and Bluesky's rule), the text and
 * reaction limits.
 */
import { graphemeLength } from "#kit/text.ts";
import { AllowIncoming, MemberStatus } from "#gen/oasis/chat/v1/chat_pb.ts";
import type { Relationship } from "#gen/oasis/graph/v1/graph_pb.ts";

/** Text limit in grapheme clusters (Bluesky chat's 1,000 graphemes). */
export const maxTextGraphemes = 1000;

/** Most reactions one message holds (all users together). */
export const maxReactionsPerMessage = 50;

/** True when either side blocks the other. `rel` is from the sender's side. */
export function blocked(rel: Relationship | undefined): boolean {
  return !!rel && (rel.blocking || rel.blockedBy);
}

/** Whether a recipient's setting lets the sender start a convo (`rel` from the sender's side). */
export function allowsIncoming(setting: AllowIncoming | undefined, rel: Relationship | undefined): boolean {
  switch (setting ?? AllowIncoming.EVERYONE) {
    case AllowIncoming.NONE:
      return false;
    case AllowIncoming.FOLLOWERS:
      return !!rel?.following;
    case AllowIncoming.FOLLOWING:
      return !!rel?.followedBy;
    default:
      return true;
  }
}

/** A new member's status: ACCEPTED if they follow the sender, else REQUEST. */
export function initialStatus(rel: Relationship | undefined): MemberStatus {
  return rel?.followedBy ? MemberStatus.ACCEPTED : MemberStatus.REQUEST;
}

/** The text's length problem, if any (graphemes as people count them). */
export function textTooLong(text: string): number | undefined {
  const n = graphemeLength(text);
  return n > maxTextGraphemes ? n : undefined;
}

/** A reaction is exactly one grapheme cluster that is not whitespace. */
export function validReaction(value: string): boolean {
  return graphemeLength(value) === 1 && value.trim() === value;
}
