/**
 * Graph rules without SQL or transport: who may relate to whom, who may see whose
 * lists, and how stored flags become a Relationship.
 */
import { create } from "@bufbuild/protobuf";
import type { Caller } from "#kit/call-context.ts";
import { RelationshipSchema, type Relationship } from "#gen/oasis/graph/v1/graph_pb.ts";
import type { RelationFlag } from "./model.ts";

/** A user cannot follow, block or mute themself. */
export function isSelf(viewer: bigint, target: bigint): boolean {
  return viewer === target;
}

/** The Relationship message for one user from the viewer's flags towards them. */
export function toRelationship(userId: bigint, flags: ReadonlySet<RelationFlag> | undefined): Relationship {
  const has = (f: RelationFlag) => flags?.has(f) ?? false;
  return create(RelationshipSchema, {
    userId,
    following: has("following"),
    followedBy: has("followedBy"),
    mutual: has("following") && has("followedBy"),
    requested: has("requested"),
    requestedBy: has("requestedBy"),
    blocking: has("blocking"),
    blockedBy: has("blockedBy"),
    muting: has("muting"),
  });
}

export type ListVisibility = "visible" | "private" | "blocked";

/**
 * Whether `caller` may list `owner`'s followers/following/mutual fans: the owner and
 * services always; a user the owner blocks, or who blocks the owner, never; a private
 * account's lists only to its followers.
 */
export function listVisibility(caller: Caller, owner: bigint, ownerPrivate: boolean, flags: ReadonlySet<RelationFlag> | undefined): ListVisibility {
  if (caller.service || caller.userId === owner) return "visible";
  if (flags?.has("blocking") || flags?.has("blockedBy")) return "blocked";
  if (ownerPrivate && !flags?.has("following")) return "private";
  return "visible";
}
