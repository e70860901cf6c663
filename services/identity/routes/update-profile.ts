/**
 * UpdateProfile: the caller's profile fields named by update_mask, with profile_updated
 * in the same transaction. PERMISSION_DENIED NOT_PROFILE_OWNER; INVALID_ARGUMENT
 * FIELD_NOT_UPDATABLE, DUPLICATE_FIELD_KEY, AVATAR_NOT_OWNED; NOT_FOUND ACCOUNT_NOT_FOUND.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { ErrorReason } from "#gen/oasis/identity/v1/errors_pb.ts";
import { ProfileUpdatedSchema } from "#gen/oasis/identity/v1/events_pb.ts";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";
import { requireOwnAvatar } from "../domain/profiles.ts";
import { changesFromMask, duplicateFieldKeys } from "../domain/rules.ts";

export function updateProfile(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "updateProfile"> {
  const { rt, errors, store } = ctx;
  return {
    async updateProfile(req) {
      const me = currentCaller().userId!;
      const profile = req.profile!;
      if (profile.userId !== me) {
        throw errors.permissionDenied(ErrorReason.NOT_PROFILE_OWNER, "you can only update your own profile", { user_id: profile.userId });
      }
      const paths = req.updateMask?.paths ?? [];
      const mask = changesFromMask(paths, profile);
      if (!mask.ok) {
        throw errors.invalid(mask.notUpdatable ? ErrorReason.FIELD_NOT_UPDATABLE : ErrorReason.UNSPECIFIED, mask.violations);
      }
      if (mask.changes.fields) {
        const dups = duplicateFieldKeys(mask.changes.fields);
        if (dups.length) {
          throw errors.invalid(
            ErrorReason.DUPLICATE_FIELD_KEY,
            dups.map((i) => ({ field: `profile.fields[${i}].key`, description: "repeats the key of an earlier field" })),
          );
        }
      }
      if (mask.changes.avatarMediaId) await requireOwnAvatar(ctx, me, mask.changes.avatarMediaId);
      const updated = await rt.tx(async (tx) => {
        const current = await store.profileById(tx, me, true);
        if (!current) throw errors.notFound(ErrorReason.ACCOUNT_NOT_FOUND, "account no longer exists");
        await store.updateProfileRow(tx, me, mask.changes, new Date());
        const after = (await store.profileById(tx, me))!;
        await rt.outbox.add(tx, ProfileUpdatedSchema, { profile: after, updateMask: { paths: [...new Set(paths)] } });
        return after;
      });
      await ctx.profiles.invalidate(me);
      return { profile: updated };
    },
  };
}
