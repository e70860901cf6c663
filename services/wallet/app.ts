/**
 * Builds the wallet process: runtime (MySQL `oasis_wallet`, bus + outbox), WalletService,
 * the earning consumers (identity, post, interaction events), the hold expiry job (voids
 * holds past their timeout, SKIP LOCKED so replicas share the work) and the ledger audit.
 */
import { join } from "node:path";
import { openRuntime, serve, type App } from "#kit/runtime.ts";
import { bind } from "#kit/server.ts";
import { WalletService } from "#gen/oasis/wallet/v1/wallet_service_pb.ts";
import { createAuditor } from "./audit.ts";
import type { WalletConfig } from "./config.ts";
import { createContext } from "./context.ts";
import { identityConsumer, interactionConsumer, postConsumer } from "./events.ts";
import { walletService } from "./service.ts";

export async function createWalletApp(config: WalletConfig): Promise<App> {
  const rt = await openRuntime(config, { migrationsDir: join(import.meta.dir, "migrations"), bus: true });
  const ctx = createContext(rt);
  const auditor = createAuditor(rt, ctx.store);
  rt.every("expire-holds", config.expireMs, async () => {
    while ((await ctx.store.expireHolds(new Date(), 100)).length === 100);
  });
  rt.every("audit-ledger", config.auditMs, async () => {
    await auditor.run();
  });
  return serve(rt, {
    bindings: [bind(WalletService, walletService(ctx, auditor))],
    consumers: [identityConsumer(ctx), postConsumer(ctx), interactionConsumer(ctx)],
  });
}
