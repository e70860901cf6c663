/**
 * A TCP port that was free a moment ago, chosen below Linux's ephemeral range
 * (32768-60999, /proc/sys/net/ipv4/ip_local_port_range): a port handed out by binding
 * to 0 comes from that range, where any outgoing connection (to MariaDB, Redis, NATS)
 * may take it as its source port between the check and the service's own bind.
 * Tries random ports in 20000-32767 (bind, read, close), never one this process has
 * handed out before (two of one mesh's ports are asked for before either is bound);
 * falls back to port 0.
 *
 * `npm test` runs test files in several worker processes at once (scripts/test.ts), so a
 * port is also claimed across processes: a file `<tmpdir>/oasis-test-ports/<port>` made
 * with O_EXCL holds the claiming process's pid. A claim whose process is gone is stale and
 * is taken over; this process's claims are removed when it exits.
 */
import { openSync, closeSync, writeSync, readFileSync, unlinkSync, mkdirSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const low = 20_000;
const high = 32_767;
const handedOut = new Set<number>();
const claimed = new Set<number>();
const claimDir = join(tmpdir(), "oasis-test-ports");
let exitHook = false;

function tryPort(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(undefined));
    srv.listen(port, "127.0.0.1", () => {
      const bound = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(bound));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Claims `port` for this process across processes: true when the claim file was made (or a
 * stale one, whose pid is no longer running, was taken over), false when a live process holds it.
 */
export function claimPort(port: number): boolean {
  mkdirSync(claimDir, { recursive: true });
  const file = join(claimDir, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      claimed.add(port);
      if (!exitHook) {
        exitHook = true;
        process.once("exit", releaseClaims);
      }
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(file, "utf8"));
      } catch {
        continue; // removed meanwhile: try again
      }
      // An empty file is a claim being written this instant: leave it to its maker.
      if (!Number.isInteger(holder) || holder <= 0 || holder === process.pid || alive(holder)) return false;
      try {
        unlinkSync(file);
      } catch {
        // another process took it over first; the next openSync decides
      }
    }
  }
  return false;
}

function releaseClaims(): void {
  for (const port of claimed) {
    try {
      if (Number(readFileSync(join(claimDir, String(port)), "utf8")) === process.pid) unlinkSync(join(claimDir, String(port)));
    } catch {
      // already gone
    }
  }
}

/** A port in 20000-32767 that is free, not handed out by this process and claimed by no live test process. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const candidate = low + Math.floor(Math.random() * (high - low + 1));
    if (handedOut.has(candidate)) continue;
    const port = await tryPort(candidate);
    if (port === undefined) continue;
    if (!claimPort(port)) continue;
    handedOut.add(port);
    return port;
  }
  const any = await tryPort(0);
  if (any === undefined) throw new Error("no free TCP port");
  return any;
}
