/** Builds the post process: runtime (MySQL `oasis_post`, Redis, bus + outbox), PostService and the consumers of moderation's actions (takedowns and labels; account suspensions). */
import { join } from "node:path";
import { openRuntime, serve, type App } from "#kit/runtime.ts";
import { bind } from "#kit/server.ts";
import { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { PostConfig } from "./config.ts";
import { createContext } from "./context.ts";
import { moderationConsumer } from "./moderation-events.ts";
import { suspensionConsumer } from "./suspension-events.ts";
import { postService } from "./service.ts";

export async function createPostApp(config: PostConfig): Promise<App> {
  const rt = await openRuntime(config, { migrationsDir: join(import.meta.dir, "migrations"), redis: true, bus: true, multipleStatements: true });
  const ctx = createContext(rt);
  return serve(rt, { bindings: [bind(PostService, postService(ctx))], consumers: [moderationConsumer(ctx), suspensionConsumer(ctx)] });
}
