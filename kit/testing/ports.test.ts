import { describe, expect, test } from "bun:test";
import { writeFileSync, readFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { claimPort, freePort } from "./ports.ts";

const claimDir = join(tmpdir(), "oasis-test-ports");

/** Runs claimPort(port) in another process and returns what it answered. */
async function claimElsewhere(port: number): Promise<boolean> {
  const proc = Bun.spawn([process.execPath, "-e", `import { claimPort } from ${JSON.stringify(join(import.meta.dir, "ports.ts"))}; console.log(claimPort(${port}));`], { stdout: "pipe" });
  const out = (await new Response(proc.stdout).text()).trim();
  expect(await proc.exited).toBe(0);
  return out === "true";
}

describe("test ports are claimed across processes", () => {
  test("a port this process handed out cannot be claimed by another live process", async () => {
    const port = await freePort();
    expect(readFileSync(join(claimDir, String(port)), "utf8")).toBe(String(process.pid));
    expect(await claimElsewhere(port)).toBe(false);
  });

  test("a claim whose process has exited is stale and is taken over", async () => {
    const dead = Bun.spawn([process.execPath, "-e", "0"]);
    await dead.exited;
    mkdirSync(claimDir, { recursive: true });
    const port = 20_000 + (process.pid % 1000) * 12 + 7;
    writeFileSync(join(claimDir, String(port)), String(dead.pid));
    expect(claimPort(port)).toBe(true);
    expect(readFileSync(join(claimDir, String(port)), "utf8")).toBe(String(process.pid));
  });

  test("a process's claims are released when it exits", async () => {
    const proc = Bun.spawn([process.execPath, "-e", `import { freePort } from ${JSON.stringify(join(import.meta.dir, "ports.ts"))}; console.log(await freePort());`], { stdout: "pipe" });
    const port = Number((await new Response(proc.stdout).text()).trim());
    expect(await proc.exited).toBe(0);
    expect(port).toBeGreaterThanOrEqual(20_000);
    expect(claimPort(port)).toBe(true);
  });
});
