/**
 * Media benchmark, in one run on this machine:
 * - uploads/s of the real images (UploadMedia direct, 4 concurrent clients; each upload
 *   decodes, makes three variants and a BlurHash, and fsyncs its needles);
 * - GET of `thumb` variants: req/s and p99 direct (media's HTTP path, h2c) and via the
 *   edge (HTTP/1.1), over many distinct thumbs;
 * - disk reads per GET, counted by the kernel for the media process (a separate process
 *   here): read syscalls (/proc/<pid>/io syscr, which also counts socket and eventfd
 *   reads) and bytes fetched from storage (read_bytes; 0 when the page cache served
 *   them) over each GET run, and, where strace is installed, the pread64 calls of a
 *   short extra run of plain GETs (only file reads use pread64: the exact number of
 *   volume reads per GET). The volume store's own counter (media_volume_reads_total)
 *   is printed beside them.
 *
 * Run: bun bench/media.ts [seconds per GET run, default 10]
 */
import { spawn } from "node:child_process";
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
import { testAdminHandle } from "../kit/testing/mesh.ts";
import { formatResult, runLoad } from "./lib/h2load.ts";
import { closedLoop } from "./lib/load-clients.ts";
import { machineLine } from "./lib/machine.ts";
import { metricValue } from "./lib/metrics.ts";

const seconds = Number(process.argv[2] ?? 10);

/** A process's kernel I/O counters: read syscalls on any fd, and bytes read from storage. */
function procIo(pid: number): { syscr: number; readBytes: number } {
  const text = readFileSync(`/proc/${pid}/io`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(text)![1]);
  return { syscr: field("syscr"), readBytes: field("read_bytes") };
}

/**
 * pread64 calls `pid` (all its threads) makes while `run` runs, counted by strace;
 * undefined when strace is missing or may not attach. strace slows the traced process,
 * so this runs apart from the timed loads.
 */
async function preadsDuring(pid: number, run: () => Promise<void>): Promise<number | undefined> {
  const out = join(dataDir, "strace.txt");
  const tracer = spawn("strace", ["-f", "-c", "-e", "trace=pread64", "-o", out, "-p", String(pid)], { stdio: ["ignore", "ignore", "pipe"] });
  const attached = await new Promise<boolean>((resolve) => {
    tracer.on("error", () => resolve(false));
    tracer.on("exit", () => resolve(false));
    let err = "";
    tracer.stderr!.on("data", (d) => {
      err += d;
      if (/attached/.test(err)) resolve(true);
    });
  });
  if (!attached) return undefined;
  await Bun.sleep(500); // let it attach to every thread
  await run();
  const exited = new Promise((resolve) => tracer.on("exit", resolve));
  tracer.kill("SIGINT");
  await exited;
  const calls = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?pread64$/m.exec(readFileSync(out, "utf8"))?.[1];
  return Number(calls ?? 0);
}

await ensureInfra();
console.log(machineLine());
const dataDir = mkdtempSync(join(tmpdir(), "oasis-bench-media-"));
const mesh = await startTestMesh({ services: ["identity", "media"], edge: true, env: { OASIS_MEDIA_DATA_DIR: dataDir } });
try {
  await raiseEdgeLimits(mesh.url("edge"), testAdminHandle);
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
    const reads0 = await metricValue(mesh.metricsUrl("media"), "media_volume_reads_total");
    const io0 = procIo(pids.media!);
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
    const io1 = procIo(pids.media!);
    const reads = (await metricValue(mesh.metricsUrl("media"), "media_volume_reads_total")) - reads0;
    const per = (x: number) => (x / Math.max(1, r.requests)).toFixed(3);
    console.log(formatResult(r));
    console.log(
      `  media process per GET (kernel, /proc/${pids.media}/io): ${per(io1.syscr - io0.syscr)} read syscalls (any fd), ${per(io1.readBytes - io0.readBytes)} bytes from storage; ` +
        `volume store preads per GET: ${per(reads)}; CPU per GET: ${perRequest(cA, cB, r.requests)}`,
    );
  }
  const traced = 500;
  const preads = await preadsDuring(pids.media!, async () => {
    for (let i = 0; i < traced; i++) {
      const res = await fetch(`${mesh.url("media")}${list[i % list.length]}`);
      if (res.status !== 200) throw new Error(`GET ${list[i % list.length]}: ${res.status}`);
      await res.arrayBuffer();
    }
  });
  console.log(
    preads === undefined
      ? "  disk reads per GET (strace pread64): strace not available"
      : `  disk reads per GET (strace, pread64 calls of media): ${(preads / traced).toFixed(3)} (${preads} / ${traced} GETs)`,
  );
} finally {
  await mesh.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
