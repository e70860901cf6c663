/**
 * The main job: `npm run demo` starts MariaDB/Redis/NATS if needed, the whole mesh
 * (every service and the edge), loads the Reed98 demo through the edge, prints a
 * summary and the URLs, and keeps running until Ctrl-C. `--exit` stops after loading.
 */
import { startMesh } from "../scripts/mesh.ts";
import { DemoLoader } from "./loader.ts";
import { demoPassword } from "./users.ts";

const exitAfterLoad = process.argv.includes("--exit");
const t0 = performance.now();
const mesh = await startMesh();
let code = 0;
try {
  const report = await new DemoLoader(mesh.edgeUrl).run();
  console.log("\n=== Oasis demo loaded ===");
  console.log(`users: ${report.users}`);
  for (const s of report.steps) console.log(`  ${s.step.padEnd(12)} ${String(s.count).padStart(6)} in ${s.seconds.toFixed(1)} s (${s.rate.toFixed(0)}/s)`);
  console.log(`load time: ${report.seconds.toFixed(1)} s; total with mesh start: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`\nedge:    ${mesh.edgeUrl}`);
  console.log(`metrics: ${mesh.edgeUrl}/metrics`);
  console.log(`log in:  curl -s ${mesh.edgeUrl}/oasis.identity.v1.IdentityService/CreateSession -H 'content-type: application/json' -d '{"login":"${report.sampleHandle}","password":"${demoPassword}"}'`);
} catch (err) {
  console.error("demo load failed:", err);
  code = 1;
}
if (exitAfterLoad || code !== 0) {
  await mesh.stop();
  process.exit(code);
}
console.log("\nThe mesh keeps running; Ctrl-C stops it.");
const stop = async () => {
  await mesh.stop();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
