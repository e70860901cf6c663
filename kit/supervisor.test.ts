/**
 * The mesh supervisor (kit/supervisor.ts) with a real child process: after `kill -9` it
 * restarts the process and waits for it to be ready again, backing off 0.5 s, then 1 s
 * on a second crash of a process that had not run for a minute; a stopped process is
 * not restarted; a process that never gets ready fails with its last output; a restart
 * may lay env over the process's own.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Supervisor } from "./supervisor.ts";
import { freePort } from "./testing/ports.ts";

const dir = mkdtempSync(join(tmpdir(), "oasis-supervisor-"));
const entry = join(dir, "child.ts");
const lines: string[] = [];
let supervisor: Supervisor;
let port = 0;

beforeAll(async () => {
  // A minimal mesh process: serves /readyz and reports its pid.
  writeFileSync(
    entry,
    `Bun.serve({ port: Number(process.env.CHILD_PORT), hostname: "127.0.0.1", fetch: () => new Response(String(process.pid)) });\n` +
      `console.log("child " + process.pid + " up");\n`,
  );
  port = await freePort();
  supervisor = new Supervisor({ output: (name, line) => void lines.push(`${name}: ${line}`), restart: true });
  await supervisor.start({ name: "child", entry, port, env: { ...process.env, CHILD_PORT: String(port) } });
});
afterAll(async () => {
  await supervisor?.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

async function servingPid(): Promise<number> {
  return Number(await (await fetch(`http://127.0.0.1:${port}/readyz`)).text());
}

async function untilServedBy(other: (pid: number) => boolean, timeoutMs = 15_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const pid = await servingPid().catch(() => 0);
    if (pid && other(pid)) return pid;
    await Bun.sleep(25);
  }
  throw new Error("the process did not come back");
}

test("kill -9: restarted with backoff 0.5 s, then 1 s on the next crash", async () => {
  const first = supervisor.pid("child")!;
  expect(await servingPid()).toBe(first);

  let killedAt = performance.now();
  supervisor.kill9("child");
  const second = await untilServedBy((pid) => pid !== first);
  const firstGapMs = performance.now() - killedAt;
  expect(second).toBe(supervisor.pid("child")!);
  expect(firstGapMs).toBeGreaterThanOrEqual(500);
  expect(lines.some((l) => /^child: exited \(code (137|SIGKILL)\); restarting in 500 ms$/.test(l))).toBe(true);

  killedAt = performance.now();
  supervisor.kill9("child");
  const third = await untilServedBy((pid) => pid !== second);
  expect(performance.now() - killedAt).toBeGreaterThanOrEqual(1_000);
  expect(third).not.toBe(first);
  expect(lines.some((l) => /restarting in 1000 ms$/.test(l))).toBe(true);
  expect(lines.filter((l) => / up$/.test(l))).toHaveLength(3);
});

test("a process stopped on purpose is not restarted", async () => {
  const logged = lines.length;
  await supervisor.stop("child");
  // The supervisor decides on exit, before stop() returns: no restart was scheduled.
  expect(lines.slice(logged).filter((l) => /restarting in/.test(l))).toEqual([]);
  // And none comes. This wait is the thing under test (an absence), so it must outlast
  // the backoff a wrongful restart would use: after the two crashes above that is
  // 500 ms x 2^2 = 2 s from the exit (the old 1.5 s wait could not have seen it).
  await Bun.sleep(2_000 + 1_000);
  expect(await servingPid().then(() => "answered", () => "refused")).toBe("refused");
  expect(lines.slice(logged).filter((l) => / up$/.test(l))).toEqual([]);
});

test("a process that never gets ready fails its start with what the probe saw and its last output", async () => {
  const stuck = join(dir, "stuck.ts");
  writeFileSync(
    stuck,
    `Bun.serve({ port: Number(process.env.CHILD_PORT), hostname: "127.0.0.1", fetch: () => new Response("waiting for the database", { status: 503 }) });\n` +
      `console.log("connecting to the database");\n`,
  );
  const quiet = new Supervisor({ output: null, restart: false, readyTimeoutMs: 1_500 });
  const p = await freePort();
  try {
    const err = await quiet.start({ name: "stuck", entry: stuck, port: p, env: { ...process.env, CHILD_PORT: String(p) } }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toContain(`port ${p} not ready after 1500 ms (last probe: 503 waiting for the database)`);
    expect(msg).toContain("stuck (pid ");
    expect(msg).toContain("  | connecting to the database");
  } finally {
    await quiet.stopAll();
  }
});

test("a restart with env lays it over the process's env, for that start and later ones", async () => {
  const echo = join(dir, "echo.ts");
  writeFileSync(echo, `Bun.serve({ port: Number(process.env.CHILD_PORT), hostname: "127.0.0.1", fetch: () => new Response(process.env.CHILD_SETTING ?? "unset") });\n`);
  const quiet = new Supervisor({ output: null, restart: false });
  const p = await freePort();
  const setting = async () => (await fetch(`http://127.0.0.1:${p}/readyz`)).text();
  try {
    await quiet.start({ name: "echo", entry: echo, port: p, env: { ...process.env, CHILD_PORT: String(p), CHILD_SETTING: "default" } });
    expect(await setting()).toBe("default");
    await quiet.stop("echo");
    await quiet.restart("echo", { CHILD_SETTING: "short" });
    expect(await setting()).toBe("short");
    await quiet.stop("echo");
    await quiet.restart("echo");
    expect(await setting()).toBe("short");
  } finally {
    await quiet.stopAll();
  }
});
