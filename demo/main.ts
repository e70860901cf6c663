/**
 * The main job: `npm run demo` starts MariaDB/Redis/NATS if needed, the whole mesh
 * (every service and the edge), loads the Reed98 demo through the edge, prints a
 * summary and the URLs, and keeps running until Ctrl-C. `--exit` stops after loading.
 * OASIS_DEMO_SLICE=<n> (default 0: the whole demo) loads only demoSlice(n) (the first n
 * members and the friends their requests need), each request as the whole load makes
 * it: the end-to-end test reloads a slice to check that a second run changes nothing.
 */
import { startMesh } from "../scripts/mesh.ts";
import { randomBytes } from "node:crypto";
import { bulkImportLimits, createEdgeAdmin, setEdgeLimits } from "../edge/limits-admin.ts";
import { createMeshClient } from "../kit/client.ts";
import { WalletService } from "../gen/oasis/wallet/v1/wallet_service_pb.ts";
import { DemoLoader, demoSlice } from "./loader.ts";
import { nonNegativeIntEnv } from "../kit/env.ts";
import { seedModeration } from "./moderation.ts";
import { demoPassword } from "./users.ts";

const exitAfterLoad = process.argv.includes("--exit");
const slice = nonNegativeIntEnv(process.env, "OASIS_DEMO_SLICE", 0);
const t0 = performance.now();
// The loader raises the edge's limits through the admin RPC, as an operator would: it
// needs an admin, so each run names a fresh one (no admin password is written down).
const loaderAdmin = `loader_${randomBytes(5).toString("hex")}`;
process.env.OASIS_ADMIN_HANDLES = [process.env.OASIS_ADMIN_HANDLES, loaderAdmin].filter(Boolean).join(",");
const mesh = await startMesh();
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
  // The override has a TTL (an hour), so a killed load cannot leave the limits raised.
  const admin = await createEdgeAdmin(mesh.edgeUrl, loaderAdmin);
  await setEdgeLimits(mesh.edgeUrl, admin, bulkImportLimits);
  const report = await new DemoLoader(mesh.edgeUrl, { members: slice ? demoSlice(slice) : undefined }).run().finally(() => setEdgeLimits(mesh.edgeUrl, admin, null, { wait: false }));
  const moderation = await seedModeration(mesh.edgeUrl, await admin.token());
  console.log("\n=== Oasis demo loaded ===");
  console.log(`users: ${report.users}   follows: ${report.follows}   posts: ${report.posts}   photos: ${report.photos} (${(report.mediaBytes / 1e6).toFixed(1)} MB)   likes: ${report.likes}   comments: ${report.comments}   convos: ${report.convos}   messages: ${report.messages}`);
  // The ledger's own audit (internal RPC, called with the run's operator mesh key).
  const audit = await createMeshClient(WalletService, [mesh.url("wallet")], { meshSecret: mesh.operator, audience: "wallet" }).auditLedger({});
  const sound = audit.debitsPosted === audit.creditsPosted && audit.debitsPending === audit.creditsPending && !audit.driftedAccountIds.length && !audit.negativeAccountIds.length;
  console.log(
    `drops: ${audit.issued} issued (earned)   ${report.dropsGiven} given in ${report.tips} tips   conservation: debits ${audit.debitsPosted} = credits ${audit.creditsPosted}, ` +
      `${audit.driftedAccountIds.length} drifted, ${audit.negativeAccountIds.length} negative: ${sound ? "ok" : "FAILED"}`,
  );
  for (const s of report.steps) console.log(`  ${s.step.padEnd(12)} ${String(s.count).padStart(6)} in ${s.seconds.toFixed(1).padStart(6)} s (${s.rate.toFixed(0)}/s)`);
  console.log(`load time: ${report.seconds.toFixed(1)} s; total with mesh start: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`\nedge:    ${mesh.edgeUrl}`);
  console.log(`docs:    ${mesh.edgeUrl}/docs   (OpenAPI: ${mesh.edgeUrl}/openapi.json)`);
  console.log(`metrics: ${mesh.edgeMetricsUrl}/metrics`);
  console.log(`log in:  curl -s ${mesh.edgeUrl}/v1/sessions -H 'content-type: application/json' -d '{"login":"${report.sampleHandle}","password":"${demoPassword}"}'`);
  console.log(`then:    curl -s '${mesh.edgeUrl}/v1/feeds/home?page_size=3' -H "authorization: Bearer <accessToken>"`);
  console.log(
    `moderation: ${moderation.reports} reports on ${moderation.tickets} tickets; reviewer "${moderation.handle}", password: ${
      moderation.password ?? "(set by the run that created it; this checkout's .data/ lost it)"
    }`,
  );
  console.log(`review:  curl -s ${mesh.edgeUrl}/v1/reviews:claim -H "authorization: Bearer <moderator's accessToken>" -H 'content-type: application/json' -d '{"queue":"post"}'`);
} catch (err) {
  console.error("demo load failed:", err);
  code = 1;
}
if (exitAfterLoad || code !== 0) await stop(code);
else console.log("\nThe mesh keeps running; Ctrl-C stops it.");
