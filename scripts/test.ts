/**
 * The test command (`npm test`, and what .ci/run runs): starts MariaDB, Redis and NATS
 * if they are down, runs every test with `bun test` (contract checks included:
 * scripts/checks.test.ts), and ends with the plain line `N passed, N failed` taken
 * from bun's own `N pass` / `N fail` summary. Exit status is bun's.
 *
 * Extra arguments go to bun test, e.g. `npm test -- services/identity`.
 */
import { ensureInfra } from "./infra.ts";

await ensureInfra();
const started = performance.now();
const proc = Bun.spawn([process.execPath, "test", "--timeout=120000", ...process.argv.slice(2)], {
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
const passed = /(\d+) pass\b/.exec(tail)?.[1] ?? "0";
const failed = /(\d+) fail\b/.exec(tail)?.[1] ?? (code === 0 ? "0" : "1");
console.log(`\ntests took ${((performance.now() - started) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(code);
