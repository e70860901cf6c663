/**
 * Starts ../shared/bench/floor-server.ts (the least a timeline read or a compose can cost on
 * this stack) on a free port, with an Oasis page as its pre-rendered items so sizes match,
 * and describes it as a mix target: its 962 users, the first 100 of which compose.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../kit/testing/ports.ts";
import type { MixTarget } from "./mix.ts";

export interface FloorServer {
  readonly target: MixTarget;
  readonly pid: number;
  stop(): Promise<void>;
}

/** `pageJson`: a home page from Oasis ({"items":[...]}) to copy item sizes from. */
export async function startFloor(pageJson: string): Promise<FloorServer> {
  const dir = mkdtempSync(join(tmpdir(), "oasis-floor-"));
  writeFileSync(join(dir, "items.json"), pageJson);
  const port = await freePort();
  const proc = Bun.spawn([process.execPath, "../shared/bench/floor-server.ts", "--port", String(port), "--items", join(dir, "items.json"), "--users", join(dir, "users.txt")], {
    stdout: "pipe",
    stderr: "inherit",
  });
  // Ready when it printed its line (listening, tokens file written).
  const reader = proc.stdout.getReader();
  let out = "";
  while (!out.includes("floor server on")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`floor server exited: ${out}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const users = readFileSync(join(dir, "users.txt"), "utf8")
    .trim()
    .split("\n")
    .map((line) => {
      const [token, index, composes] = line.split(" ");
      return { token: token!, pathId: index!, media: composes === "1" ? ["1", "2", "3", "4"] : undefined };
    });
  return {
    target: { name: "floor", base: `http://127.0.0.1:${port}`, users },
    pid: proc.pid,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
