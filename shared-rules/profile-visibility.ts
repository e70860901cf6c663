/**
 * Who may read a profile, and how much of it: the rule identity applies on every read
 * it serves, shared (like post-visibility.ts) with search, which presents profiles from
 * its own read model and must show a viewer exactly what identity would. Imports only
 * generated types and the kit's caller type, never a service.
 */
import { create } from "@bufbuild/protobuf";
import type { Caller } from "#kit/call-context.ts";
import { ProfileSchema, type Profile } from "#gen/oasis/identity/v1/profile_pb.ts";

/**
 * Private profiles are shown to signed-in users only (Instagram's model: header
 * visible, posts not), and to services acting for themselves (fan-out, hydration jobs).
 */
export function canReadProfile(profile: Profile, caller: Caller): boolean {
  return !profile.private || caller.userId !== null || caller.service;
}

/** What graph says about the viewer and a profile's owner (graph's Relationship, the fields used). */
export interface ViewerRelation {
  readonly following: boolean;
  readonly blocking: boolean;
  readonly blockedBy: boolean;
}

/**
 * Whose relationship to a profile decides what they see: signed-in users other than the
 * owner. Services acting for themselves and owners see everything.
 */
export function needsRelation(profile: Profile, caller: Caller): boolean {
  return !caller.service && caller.userId !== null && caller.userId !== profile.userId;
}

/**
 * The profile as `relation`'s viewer may see it (the rules step of hydration):
 * undefined when a block in either direction hides it (as if it did not exist); for a
 * private account the viewer does not follow, only its header: user id, handle,
 * display name, avatar (Instagram's private-account header; the bio and fields are
 * for approved followers).
 */
export function presentProfile(profile: Profile, relation: ViewerRelation | undefined): Profile | undefined {
  if (!relation) return profile;
  if (relation.blocking || relation.blockedBy) return undefined;
  if (!profile.private || relation.following) return profile;
  return create(ProfileSchema, {
    userId: profile.userId,
    handle: profile.handle,
    displayName: profile.displayName,
    avatarMediaId: profile.avatarMediaId,
    private: true,
  });
}
