/**
 * Process entry for a service: start the app, stop it on SIGTERM/SIGINT (Kubernetes
 * sends SIGTERM, then SIGKILL after the grace period), exit non-zero if start fails.
 */
import type { App } from "./runtime.ts";

export async function runMain(create: () => Promise<App>): Promise<void> {
  let app: App;
  try {
    app = await create();
    await app.start();
  } catch (err) {
    console.error(JSON.stringify({ level: "fatal", msg: "failed to start", err: String((err as Error)?.stack ?? err) }));
    process.exit(1);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.runtime.log.info({ signal }, "stopping");
    await app.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}
