/**
 * Builds the moderation process: runtime (MySQL `oasis_moderation`, the bus for the
 * outbox), ModerationService, the keyword rules' consumers of new content (events.ts),
 * and a job each second that reverses actions whose duration ended (a timed suspension
 * or takedown lifts itself).
 */
import { join } from "node:path";
import { openRuntime, serve, type App } from "#kit/runtime.ts";
import { bind } from "#kit/server.ts";
import { ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import type { ModerationConfig } from "./config.ts";
import { createContext } from "./context.ts";
import { Access } from "#kit/auth.ts";
import { ErrorReason } from "#gen/oasis/moderation/v1/errors_pb.ts";
import { liftExpired } from "./domain/actions.ts";
import { errors } from "./domain/errors.ts";
import { isAdmin, requireModerator } from "./domain/roles.ts";
import { ruleConsumers } from "./events.ts";
import { moderationService } from "./service.ts";

export async function createModerationApp(config: ModerationConfig): Promise<App> {
  const rt = await openRuntime(config, { migrationsDir: join(import.meta.dir, "migrations"), redis: true, bus: true });
  const ctx = createContext(rt);
  rt.every("lift-expired", 1_000, async () => {
    const lifted = await liftExpired(ctx);
    if (lifted) rt.log.info({ lifted }, "timed actions lifted");
  });
  return serve(rt, {
    bindings: [bind(ModerationService, moderationService(ctx))],
    consumers: ruleConsumers(ctx),
    // Role-gated methods refuse a caller without the role before the request is validated.
    authorize: async (level) => {
      const me = await requireModerator(ctx.roles);
      if (level === Access.ADMIN && !(await isAdmin(ctx.roles, me))) throw errors.permissionDenied(ErrorReason.NOT_ADMIN, "only an admin may do this");
    },
  });
}
