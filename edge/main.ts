/** Runs the edge: `bun edge/main.ts`. */
import { createEdgeApp } from "./app.ts";
import { loadEdgeConfig } from "./config.ts";
import { mediaRoutes } from "./media-routes.ts";

const app = createEdgeApp(loadEdgeConfig(), (deps) => [...mediaRoutes(deps)]);
const port = await app.start();
console.log(JSON.stringify({ level: "info", service: "edge", port, msg: "serving" }));
const stop = async () => {
  await app.stop();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
