/**
 * Load generation with h2load (nghttp2, Debian package nghttp2-client): a C client, so
 * on a 2-core box the server under test gets the CPU rather than a JS load generator.
 * HTTP/2 (h2c prior knowledge) for direct service calls, `--h1` for HTTP/1.1 to the
 * edge. Latency percentiles come from h2load's per-request log.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LoadResult {
  readonly label: string;
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface LoadSpec {
  readonly label: string;
  readonly url: string;
  /** More URLs on the same host; h2load spreads requests over all of them. */
  readonly extraUrls?: readonly string[];
  readonly body?: Uint8Array | string;
  readonly headers?: Record<string, string>;
  /** "h2" (prior knowledge) or "h1". */
  readonly http: "h2" | "h1";
  readonly connections: number;
  /** Concurrent streams per connection (h2 only). */
  readonly streams?: number;
  readonly durationSeconds: number;
  readonly warmupSeconds?: number;
}

/** Installs nghttp2-client with apt-get if h2load is missing (Debian machines). */
export function ensureH2load(): string {
  const path = Bun.which("h2load");
  if (path) return path;
  if (existsSync("/usr/bin/apt-get")) {
    console.log("h2load not found; installing nghttp2-client with apt-get ...");
    Bun.spawnSync(["apt-get", "install", "-y", "-q", "nghttp2-client"], { stdout: "inherit", stderr: "inherit" });
  }
  const again = Bun.which("h2load");
  if (!again) throw new Error("h2load is required: apt-get install nghttp2-client");
  return again;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const h2load = ensureH2load();
  const dir = mkdtempSync(join(tmpdir(), "oasis-load-"));
  try {
    const args = [h2load, "-D", String(spec.durationSeconds), "-c", String(spec.connections), "-t", "1"];
    if (spec.warmupSeconds) args.push(`--warm-up-time=${spec.warmupSeconds}`);
    if (spec.http === "h1") args.push("--h1");
    else args.push("-m", String(spec.streams ?? 16));
    if (spec.body !== undefined) {
      const bodyPath = join(dir, "body");
      writeFileSync(bodyPath, spec.body);
      args.push("-d", bodyPath);
    }
    for (const [k, v] of Object.entries(spec.headers ?? {})) args.push("-H", `${k}: ${v}`);
    const logPath = join(dir, "log");
    args.push(`--log-file=${logPath}`, spec.url, ...(spec.extraUrls ?? []));
    const proc = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(proc.stdout).text();
    await proc.exited;
    const lines = readFileSync(logPath, "utf8").trim().split("\n").filter(Boolean);
    const latencies: number[] = [];
    let errors = 0;
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (const line of lines) {
      const [start, status, micros] = line.split("\t").map(Number) as [number, number, number];
      if (status < 200 || status >= 300) errors++;
      latencies.push(micros / 1000);
      first = Math.min(first, start);
      last = Math.max(last, start + micros);
    }
    latencies.sort((a, b) => a - b);
    const failedMatch = /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed/.exec(out);
    errors += Number(failedMatch?.[1] ?? 0);
    const seconds = Math.max(0.001, (last - first) / 1e6);
    return {
      label: spec.label,
      requests: latencies.length,
      errors,
      seconds,
      rps: latencies.length / seconds,
      p50Ms: percentile(latencies, 50),
      p90Ms: percentile(latencies, 90),
      p95Ms: percentile(latencies, 95),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.at(-1) ?? 0,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One line per result, aligned. */
export function formatResult(r: LoadResult): string {
  return `${r.label.padEnd(44)} ${r.rps.toFixed(0).padStart(7)} req/s   p50 ${r.p50Ms.toFixed(2).padStart(7)} ms   p99 ${r.p99Ms
    .toFixed(2)
    .padStart(7)} ms   errors ${r.errors}`;
}
