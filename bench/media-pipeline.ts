/**
 * Image pipeline benchmark, in one process on this machine (2 cores on the reference box;
 * the first line says what ran it):
 * - a decompression bomb (16000x16000 black RGB PNG, ~730 KiB, 768 MB decoded) through
 *   the same steps UploadMedia takes before it stores anything (inspect, then the bucket
 *   policy, then processing only when allowed): wall time to the refusal, CPU time, and how
 *   far the process's peak RSS (VmHWM) rose;
 * - every real image (demo/data/images) through inspect + policy + processImage (three
 *   variants and a BlurHash), `rounds` times: CPU time per upload (user + system of all
 *   threads, process.cpuUsage, so libvips worker threads count) and wall time per upload.
 *
 * Run: bun bench/media-pipeline.ts [rounds, default 5]
 */
import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { BucketPolicySchema } from "#gen/oasis/media/v1/media_pb.ts";
import { imagePath, photoNames } from "../demo/data.ts";
import { inspect, processImage } from "../services/media/pipeline.ts";
import { checkImage } from "../services/media/policy.ts";
import { pngBomb } from "../testbeds/media.ts";
import { machineLine } from "./lib/machine.ts";

const rounds = Number(process.argv[2] ?? 5);
/** The post-images bucket's defaults (services/media/migrations/0001_media.sql). */
const policy = create(BucketPolicySchema, {
  bucket: "post-images",
  allowedContentTypes: ["image/jpeg", "image/png", "image/webp", "image/gif"],
  maxBytes: 20_971_520n,
  minWidth: 8,
  minHeight: 8,
  maxWidth: 8000,
  maxHeight: 8000,
  allowAnimated: true,
});

function vmKib(field: "VmRSS" | "VmHWM"): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync("/proc/self/status", "utf8"))![1]);
}
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** What UploadMedia does with the bytes before it writes anything; "refused: ..." or "stored". */
async function upload(bytes: Uint8Array): Promise<string> {
  const info = await inspect(bytes);
  if ("kind" in info) return `refused: ${info.kind}`;
  const bad = checkImage(policy, info);
  if (bad) return `refused: ${bad.rule}`;
  const out = await processImage(bytes, info, "", policy.maxWidth * policy.maxHeight);
  return "kind" in out ? `refused: ${out.kind}` : "stored";
}

console.log(machineLine());
const bomb = await pngBomb(16000, 16000);
const hwm0 = vmKib("VmHWM");
const c0 = cpuMs();
const t0 = performance.now();
const outcome = await upload(bomb);
const wallMs = performance.now() - t0;
console.log(
  `bomb: ${(bomb.byteLength / 1024).toFixed(0)} KiB PNG, 16000x16000 -> ${outcome} in ${wallMs.toFixed(0)} ms wall, ` +
    `${(cpuMs() - c0).toFixed(0)} ms CPU; peak RSS rose ${((vmKib("VmHWM") - hwm0) / 1024).toFixed(0)} MiB`,
);

const names = [...photoNames, "no_time_for_that_tiny.gif"];
const images = names.map((n) => readFileSync(imagePath(n)));
await upload(images[0]!); // warm up libvips
let totalCpu = 0;
let totalWall = 0;
for (const [i, name] of names.entries()) {
  const c = cpuMs();
  const t = performance.now();
  for (let r = 0; r < rounds; r++) {
    const o = await upload(images[i]!);
    if (o !== "stored") throw new Error(`${name}: ${o}`);
  }
  const cpu = (cpuMs() - c) / rounds;
  const wall = (performance.now() - t) / rounds;
  totalCpu += cpu;
  totalWall += wall;
  const meta = await inspect(images[i]!);
  const dims = "kind" in meta ? "?" : `${meta.width}x${meta.height}`;
  console.log(`  ${name.padEnd(28)} ${dims.padStart(9)} ${(images[i]!.byteLength / 1024).toFixed(0).padStart(6)} KiB: ${cpu.toFixed(1).padStart(7)} ms CPU, ${wall.toFixed(1).padStart(7)} ms wall per upload`);
}
console.log(
  `real images: ${names.length} x ${rounds} rounds; mean per upload ${(totalCpu / names.length).toFixed(1)} ms CPU, ${(totalWall / names.length).toFixed(1)} ms wall; ` +
    `peak RSS ${(vmKib("VmHWM") / 1024).toFixed(0)} MiB`,
);
