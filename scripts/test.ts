/**
 * The test command (`npm test`, and what .ci/run runs): starts MariaDB, Redis and NATS
 * if they are down, runs every test with `bun test` (contract checks included:
 * scripts/checks.test.ts), and ends with the plain line `N passed, N failed, N skipped`
 * (and `, N todo` when there are any) taken from bun's own `N pass` / `N fail` /
 * `N skip` / `N todo` summary, so a skipped test is never hidden. Exit status is bun's.
 *
 * Test files run in parallel worker processes (`bun test --parallel`): as many as
 * `OASIS_TEST_WORKERS` says, by default the machine's cores (os.availableParallelism()).
 * Every file already has its own database, Redis prefix, NATS names and ports (claimed
 * across processes, kit/testing/ports.ts), so files cannot see each other. Per-file times
 * are kept in `.data/test-timings.json` (run state, not committed) and the slowest files
 * start first; a fresh clone, which has none yet, orders by `scripts/test-timings.json`
 * (one CI run's times, 2 workers on the 2-core box, committed so that the end-to-end
 * test, ~10 min, starts first instead of last).
 *
 * Mesh processes that tests start (kit/supervisor.ts) run from prebuilt bundles unless
 * `OASIS_SERVICE_BUNDLE=0` (kit/bundle.ts, design note 54: a start costs ~half the CPU):
 * built here once, before the tests, into `.data/bundles` (reused while no input file
 * changed), and handed to every test process as `OASIS_SERVICE_BUNDLE_DIR`.
 *
 * Extra arguments go to bun test, e.g. `npm test -- services/identity`.
 */
import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { ensureInfra } from "./infra.ts";
import { buildBundles, meshEntries } from "../kit/bundle.ts";
import { boolEnv } from "../kit/env.ts";
import { mesh } from "../mesh.config.ts";

/** Worker processes for test files: OASIS_TEST_WORKERS (a positive integer), else the core count. */
function workers(): number {
  const raw = process.env.OASIS_TEST_WORKERS;
  if (raw === undefined || raw === "") return availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`OASIS_TEST_WORKERS must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

await ensureInfra();
const started = performance.now();
const root = join(import.meta.dir, "..");
mkdirSync(join(root, ".data"), { recursive: true });
if (boolEnv(process.env, "OASIS_SERVICE_BUNDLE", true)) {
  const b = await buildBundles(meshEntries(mesh.map((e) => e.name)));
  process.env.OASIS_SERVICE_BUNDLE_DIR = b.dir;
  console.log(`service bundles ${b.built ? "built" : "reused"} in ${(b.ms / 1000).toFixed(1)} s (${b.dir})`);
}
const n = workers();
const timings = [join(root, ".data", "test-timings.json"), join(root, "scripts", "test-timings.json")].map((f) => `--timings=${f}`);
const parallel = n > 1 ? [`--parallel=${n}`, ...timings, "--update-timings"] : [];
const proc = Bun.spawn([process.execPath, "test", "--timeout=120000", ...parallel, ...process.argv.slice(2)], {
  stdout: "pipe",
  stderr: "pipe",
  env: process.env,
});
let tail = "";
async function relay(stream: ReadableStream<Uint8Array>, to: NodeJS.WriteStream): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    const text = decoder.decode(chunk, { stream: true });
    to.write(text);
    tail = (tail + text).slice(-4000);
  }
}
await Promise.all([relay(proc.stdout, process.stdout), relay(proc.stderr, process.stderr)]);
const code = await proc.exited;
// bun prints each count on its own line (" 12 pass", " 1 skip", " 2 todo", " 0 fail"),
// and leaves out the skip and todo lines when they are zero.
const count = (word: string) => new RegExp(`^\\s*(\\d+) ${word}$`, "m").exec(tail)?.[1];
const passed = count("pass") ?? "0";
const failed = count("fail") ?? (code === 0 ? "0" : "1");
const skipped = count("skip") ?? "0";
const todo = count("todo");
console.log(`\ntests took ${((performance.now() - started) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped${todo && todo !== "0" ? `, ${todo} todo` : ""}`);
process.exit(code);
