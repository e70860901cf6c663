/** Runs the edge: `bun edge/main.ts`. */
import { createEdgeApp } from "./app.ts";
import { loadEdgeConfig } from "./config.ts";
import { mediaRoutes } from "./media-routes.ts";
import { streamRoutes } from "./streams.ts";

const app = createEdgeApp(loadEdgeConfig(), (deps) => [
  ...mediaRoutes(deps),
  ...streamRoutes(deps, { "/v1/notifications:stream": "/oasis.notification.v1.NotificationService/StreamNotifications" }),
]);
const port = await app.start();
console.log(JSON.stringify({ level: "info", service: "edge", port, msg: "serving" }));
const stop = async () => {
  await app.stop();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
