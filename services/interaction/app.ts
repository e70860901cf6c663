/**
 * Builds the interaction process: runtime (MySQL `oasis_interaction`, Redis, bus +
 * outbox), InteractionService, the post-event, wallet tip and moderation (comment takedown) consumers and the reconcile job (recently
 * changed posts plus a sweep through all of them, reconcile.ts).
 */
import { join } from "node:path";
import { Counter } from "prom-client";
import { openRuntime, serve, type App } from "#kit/runtime.ts";
import { bind } from "#kit/server.ts";
import { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import type { InteractionConfig } from "./config.ts";
import { createContext } from "./context.ts";
import { postConsumer, referConsumer, walletConsumer } from "./events.ts";
import { moderationConsumer } from "./moderation-events.ts";
import { reconcileTick } from "./reconcile.ts";
import { interactionService } from "./service.ts";

export async function createInteractionApp(config: InteractionConfig): Promise<App> {
  const rt = await openRuntime(config, { migrationsDir: join(import.meta.dir, "migrations"), redis: true, bus: true, multipleStatements: true });
  const ctx = createContext(rt);
  // Drift the job repairs: a counter that differed from a recount of its rows means some
  // write path lost an update (deploy/monitoring: the CounterDrift alert).
  const drift = new Counter({
    name: "interaction_counter_drift_total",
    help: "Post counters the reconcile job found different from a recount of their rows and repaired.",
    registers: [rt.metrics],
  });
  rt.every("reconcile-counts", config.reconcileMs, async () => {
    const { fixed } = await reconcileTick(ctx, config.reconcileSweepBatch);
    if (fixed > 0) drift.inc(fixed);
  });
  return serve(rt, { bindings: [bind(InteractionService, interactionService(ctx))], consumers: [postConsumer(ctx), referConsumer(ctx), walletConsumer(ctx), moderationConsumer(ctx)] });
}
