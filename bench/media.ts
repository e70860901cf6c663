/**
 * Media benchmark, in one run on this machine:
 * - uploads/s of the real images (UploadMedia direct, 4 concurrent clients; each upload
 *   decodes, makes three variants and a BlurHash, and fsyncs its needles);
 * - GET of `thumb` variants: req/s and p99 direct (media's HTTP path, h2c) and via the
 *   edge (HTTP/1.1), over many distinct thumbs;
 * - disk reads per GET, from the volume store's pread counter (media_volume_reads_total).
 *
 * Run: bun bench/media.ts [seconds per GET run, default 10]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { testClient } from "#kit/testing/clients.ts";
import { startTestMesh } from "#kit/testing/mesh.ts";
import { ensureInfra } from "../scripts/infra.ts";
import { imagePath, photoNames } from "../demo/data.ts";
import { perRequest, snapshot } from "./lib/cpu.ts";
import { raiseEdgeLimits } from "../edge/limits-admin.ts";
import { formatResult, runLoad } from "./lib/h2load.ts";
import { closedLoop } from "./lib/load-clients.ts";
import { machineLine } from "./lib/machine.ts";
import { metricValue } from "./lib/metrics.ts";

const seconds = Number(process.argv[2] ?? 10);
await ensureInfra();
console.log(machineLine());
const dataDir = mkdtempSync(join(tmpdir(), "oasis-bench-media-"));
const mesh = await startTestMesh({ services: ["identity", "media"], edge: true, env: { OASIS_MEDIA_DATA_DIR: dataDir } });
try {
  await raiseEdgeLimits(process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379", mesh.namespace);
  const acct = await testClient(IdentityService, mesh.url("identity")).createAccount({ handle: "bench_media", email: "m@bench.example", password: "correct horse battery" });
  const media = testClient(MediaService, mesh.url("media"), acct.account!.userId);
  const images = photoNames.map((n) => readFileSync(imagePath(n)));
  const pids = { media: mesh.supervisor.pid("media"), edge: mesh.supervisor.pid("edge") };
  const urls: string[] = [];
  const n = 140;
  const c0 = snapshot(pids);
  const up = await closedLoop(n, 4, async (i) => {
    const m = (await media.uploadMedia({ bucket: "post-images", data: images[i % images.length]! })).media!;
    urls.push(m.variants.thumb!.url);
  });
  const c1 = snapshot(pids);
  const mb = images.reduce((s, b) => s + b.byteLength, 0) / images.length / 1e6;
  console.log(`uploads: ${up.count} real images (avg ${mb.toFixed(2)} MB) in ${up.seconds.toFixed(1)} s = ${up.rate.toFixed(1)} uploads/s, p50 ${up.p50Ms.toFixed(0)} ms, p99 ${up.p99Ms.toFixed(0)} ms`);
  console.log(`  CPU per upload: ${perRequest(c0, c1, up.count)}`);

  // h2load repeats one URL per run; spreading over many thumbs would need a URL list,
  // which h2load takes as extra arguments (it round-robins them).
  const list = urls.slice(0, 100);
  for (const via of ["direct", "edge"] as const) {
    const base = via === "direct" ? mesh.url("media") : mesh.url("edge");
    const reads0 = await metricValue(mesh.url("media"), "media_volume_reads_total");
    const cA = snapshot(pids);
    const r = await runLoad({
      label: `GET thumb ${via === "direct" ? "direct (media, h2c)" : "via edge (HTTP/1.1)"}`,
      url: `${base}${list[0]}`,
      extraUrls: list.slice(1).map((u) => `${base}${u}`),
      http: via === "direct" ? "h2" : "h1",
      connections: via === "direct" ? 4 : 64,
      streams: 16,
      durationSeconds: seconds,
    });
    const cB = snapshot(pids);
    const reads = (await metricValue(mesh.url("media"), "media_volume_reads_total")) - reads0;
    console.log(formatResult(r));
    console.log(`  disk reads per GET: ${(reads / Math.max(1, r.requests)).toFixed(3)} (${reads} preads / ${r.requests} GETs); CPU per GET: ${perRequest(cA, cB, r.requests)}`);
  }
} finally {
  await mesh.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
