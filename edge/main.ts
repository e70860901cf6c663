/** Runs the edge: `bun edge/main.ts`. */
import { createEdgeApp } from "./app.ts";
import { loadEdgeConfig } from "./config.ts";
import { mediaRoutes } from "./media-routes.ts";
import { docsRoutes } from "./openapi/docs.ts";
import { eventStreamPaths, restRoutes } from "./rest.ts";
import { edgeServices } from "./services.ts";
import { streamRoutes } from "./streams.ts";
import { RouteTable } from "./transcode/route-table.ts";

const table = new RouteTable(edgeServices);
const app = createEdgeApp(loadEdgeConfig(), (deps) => [
  ...docsRoutes(),
  ...mediaRoutes(deps),
  ...streamRoutes(deps, eventStreamPaths(table)),
  ...restRoutes(deps, table),
]);
const port = await app.start();
console.log(JSON.stringify({ level: "info", service: "edge", port, msg: "serving" }));
const stop = async () => {
  await app.stop();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
