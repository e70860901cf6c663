/** Profile use cases shared by the routes: reading a profile as the caller may see it, avatar ownership. */
import { currentCaller } from "#kit/call-context.ts";
import { ErrorReason } from "#gen/oasis/identity/v1/errors_pb.ts";
import type { Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import type { IdentityContext } from "../context.ts";
import { avatarBuckets, canReadProfile, needsRelation, presentProfile } from "./rules.ts";

/**
 * The profile as the caller may see it. Errors: NOT_FOUND ACCOUNT_NOT_FOUND when missing or
 * hidden by a block; UNAUTHENTICATED PROFILE_PRIVATE for a private profile and no caller.
 */
export async function readable(ctx: IdentityContext, profile: Profile | undefined, lookup: string): Promise<Profile> {
  const notFound = () => ctx.errors.notFound(ErrorReason.ACCOUNT_NOT_FOUND, `no account ${lookup}`, { lookup });
  if (!profile) throw notFound();
  const who = currentCaller();
  if (!canReadProfile(profile, who)) {
    throw ctx.errors.unauthenticated(ErrorReason.PROFILE_PRIVATE, "this account is private; sign in to see it", {
      user_id: profile.userId,
    });
  }
  if (!needsRelation(profile, who)) return profile;
  // As the viewer (the kit forwards the caller): fails closed if graph cannot answer.
  const { relationship } = await ctx.graph().getRelationship({ userId: profile.userId });
  const shown = presentProfile(profile, relationship);
  if (!shown) throw notFound();
  return shown;
}

/** Throws INVALID_ARGUMENT AVATAR_NOT_OWNED unless `mediaId` is `me`'s upload in an avatar bucket. */
export async function requireOwnAvatar(ctx: IdentityContext, me: bigint, mediaId: bigint): Promise<void> {
  const { media } = await ctx.media().batchGetMedia({ mediaIds: [mediaId] });
  const m = media[0];
  if (!m || m.ownerId !== me || !avatarBuckets.includes(m.bucket)) {
    throw ctx.errors.invalid(ErrorReason.AVATAR_NOT_OWNED, [
      { field: "profile.avatar_media_id", description: `must be an image you uploaded to ${avatarBuckets.join(" or ")}` },
    ]);
  }
}
