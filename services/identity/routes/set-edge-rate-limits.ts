/**
 * SetEdgeRateLimits (admin): overrides the edge's rate limits per route class for
 * ttl_seconds (no limits: removes the override). PERMISSION_DENIED NOT_ADMIN,
 * INVALID_ARGUMENT on a repeated class or a missing TTL.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { isOperator } from "#kit/auth.ts";
import { currentCaller } from "#kit/call-context.ts";
import { rateLimitOverridesKey } from "#kit/edge-keys.ts";
import { ErrorReason } from "#gen/oasis/identity/v1/errors_pb.ts";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";
import { requireAdmin } from "../domain/roles.ts";
import { overridesFromRequest } from "../domain/rules.ts";

export function setEdgeRateLimits(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "setEdgeRateLimits"> {
  const { rt, errors } = ctx;
  return {
    async setEdgeRateLimits(req) {
      await requireAdmin(ctx);
      const parsed = overridesFromRequest(req.limits, req.ttlSeconds);
      if (!parsed.ok) throw errors.invalid(ErrorReason.UNSPECIFIED, parsed.violations);
      if (parsed.overrides === null) {
        await ctx.edgeRedis.del(rateLimitOverridesKey);
        return {};
      }
      // Always with a TTL: a forgotten override (a killed bulk load) ends by itself.
      await ctx.edgeRedis.set(rateLimitOverridesKey, JSON.stringify(parsed.overrides), "EX", req.ttlSeconds);
      rt.log.warn(
        { overrides: parsed.overrides, ttl_seconds: req.ttlSeconds, by: isOperator(currentCaller()) ? "operator" : String(currentCaller().userId) },
        "edge rate limits overridden",
      );
      return { expireTime: timestampFromDate(new Date(Date.now() + req.ttlSeconds * 1000)) };
    },
  };
}
