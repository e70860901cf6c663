/**
 * The main job: `npm run demo` starts MariaDB/Redis/NATS if needed, the whole mesh
 * (every service and the edge), loads the Reed98 demo through the edge, prints a
 * summary and the URLs, and keeps running until Ctrl-C. `--exit` stops after loading.
 */
import { startMesh } from "../scripts/mesh.ts";
import { sharedConfig } from "../kit/config.ts";
import { bulkImportLimits, setEdgeLimits } from "../edge/limits-admin.ts";
import { DemoLoader } from "./loader.ts";
import { demoPassword } from "./users.ts";

const exitAfterLoad = process.argv.includes("--exit");
const t0 = performance.now();
const mesh = await startMesh();
const shared = sharedConfig(process.env);
// Ctrl-C (or a parent's SIGTERM) at any time, during the load too, stops the mesh
// processes before exiting: without this, a signal mid-load left them running.
let stopping = false;
const stop = async (exitCode: number) => {
  if (stopping) return;
  stopping = true;
  await mesh.stop();
  process.exit(exitCode);
};
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
let code = 0;
try {
  // The loader is one client importing a whole community from one IP: it would hit the
  // per-IP limits meant for phones (30 sign-ups a minute). As an operator would for a
  // bulk import, lift them for the load and restore the defaults afterwards.
  await setEdgeLimits(shared.redisUrl, shared.namespace, bulkImportLimits);
  const report = await new DemoLoader(mesh.edgeUrl).run().finally(() => setEdgeLimits(shared.redisUrl, shared.namespace, null, false));
  console.log("\n=== Oasis demo loaded ===");
  console.log(`users: ${report.users}   follows: ${report.follows}   posts: ${report.posts}   photos: ${report.photos} (${(report.mediaBytes / 1e6).toFixed(1)} MB)   likes: ${report.likes}   comments: ${report.comments}   convos: ${report.convos}   messages: ${report.messages}`);
  for (const s of report.steps) console.log(`  ${s.step.padEnd(12)} ${String(s.count).padStart(6)} in ${s.seconds.toFixed(1).padStart(6)} s (${s.rate.toFixed(0)}/s)`);
  console.log(`load time: ${report.seconds.toFixed(1)} s; total with mesh start: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`\nedge:    ${mesh.edgeUrl}`);
  console.log(`docs:    ${mesh.edgeUrl}/docs   (OpenAPI: ${mesh.edgeUrl}/openapi.json)`);
  console.log(`metrics: ${mesh.edgeUrl}/metrics`);
  console.log(`log in:  curl -s ${mesh.edgeUrl}/v1/sessions -H 'content-type: application/json' -d '{"login":"${report.sampleHandle}","password":"${demoPassword}"}'`);
  console.log(`then:    curl -s '${mesh.edgeUrl}/v1/feeds/home?page_size=3' -H "authorization: Bearer <accessToken>"`);
} catch (err) {
  console.error("demo load failed:", err);
  code = 1;
}
if (exitAfterLoad || code !== 0) await stop(code);
else console.log("\nThe mesh keeps running; Ctrl-C stops it.");
