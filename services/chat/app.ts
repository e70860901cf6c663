/**
 * Builds the chat process: runtime (MySQL `oasis_chat`, Redis for rate limits, the bus
 * for the outbox and live delivery), ChatService, and an hourly recount of unread
 * counters (they are exact by construction; the sweep repairs anything a bug or manual
 * edit left behind, as interaction's counters are reconciled).
 */
import { join } from "node:path";
import { openRuntime, serve, type App } from "#kit/runtime.ts";
import { bind } from "#kit/server.ts";
import { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import type { ChatConfig } from "./config.ts";
import { createContext } from "./context.ts";
import { chatService } from "./service.ts";

export async function createChatApp(config: ChatConfig): Promise<App> {
  const rt = await openRuntime(config, { migrationsDir: join(import.meta.dir, "migrations"), redis: true, bus: true });
  const ctx = createContext(rt);
  rt.every("unread-recount", 3_600_000, async () => {
    const fixed = await ctx.store.reconcileUnread(rt.db);
    if (fixed) rt.log.warn({ fixed }, "unread counters repaired by the recount");
  });
  return serve(rt, { bindings: [bind(ChatService, chatService(ctx))] });
}
