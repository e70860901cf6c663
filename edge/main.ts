/** Runs the edge: `bun edge/main.ts`. */
import { createEdgeApp } from "./app.ts";
import { loadEdgeConfig } from "./config.ts";

const app = createEdgeApp(loadEdgeConfig());
const port = await app.start();
console.log(JSON.stringify({ level: "info", service: "edge", port, msg: "serving" }));
const stop = async () => {
  await app.stop();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
