/** RotateSigningKey (admin): a new signing key, published before it signs. PERMISSION_DENIED NOT_ADMIN. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";
import { requireAdmin } from "../domain/roles.ts";

export function rotateSigningKey(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "rotateSigningKey"> {
  return {
    async rotateSigningKey() {
      await requireAdmin(ctx);
      const { kid, signsFrom } = await ctx.keys.rotate();
      return { kid, signTime: timestampFromDate(signsFrom), publishedKids: ctx.keys.jwks().keys.map((k) => String(k.kid)) };
    },
  };
}
