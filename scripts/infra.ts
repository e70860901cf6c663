/**
 * Makes sure MariaDB, Redis and NATS (with JetStream) answer on their local ports,
 * starting any that is down with the machine's own binaries (Debian packages). Used by
 * the test command, the mesh and the demo, so a fresh machine needs no manual step.
 * Remote infrastructure (OASIS_*_URL pointing elsewhere) is only checked, never started.
 */
import net from "node:net";
import { existsSync } from "node:fs";
import { sharedConfig } from "../kit/config.ts";

interface Dependency {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly start: string[] | undefined;
}

function reachable(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

function hostPort(url: string, fallbackPort: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || fallbackPort) };
}

const local = (host: string) => host === "127.0.0.1" || host === "localhost";

export function dependencies(env = process.env): Dependency[] {
  const cfg = sharedConfig(env);
  const mysql = hostPort(cfg.mysqlUrl, 3306);
  const redis = hostPort(cfg.redisUrl, 6379);
  const nats = hostPort(cfg.natsUrl, 4222);
  return [
    {
      name: "MariaDB",
      ...mysql,
      start: existsSync("/usr/sbin/mariadbd") ? ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"] : undefined,
    },
    {
      name: "Redis",
      ...redis,
      start: ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", String(redis.port), "--save", "", "--appendonly", "no"],
    },
    {
      name: "NATS",
      ...nats,
      start: existsSync("/usr/sbin/nats-server")
        ? ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/nats-server", "--", "-a", "127.0.0.1", "-p", String(nats.port), "-js", "-sd", "/var/lib/nats-server"]
        : undefined,
    },
  ];
}

/** Starts what is down; throws naming what could not be reached within 60 s. */
export async function ensureInfra(log: (line: string) => void = console.log): Promise<void> {
  for (const dep of dependencies()) {
    if (await reachable(dep.host, dep.port)) continue;
    if (!local(dep.host) || !dep.start) throw new Error(`${dep.name} is not reachable at ${dep.host}:${dep.port}`);
    log(`${dep.name} is down; starting it: ${dep.start.join(" ")}`);
    const proc = Bun.spawnSync(dep.start, { stdout: "inherit", stderr: "inherit" });
    if (proc.exitCode !== 0) throw new Error(`could not start ${dep.name} (exit ${proc.exitCode})`);
    const deadline = Date.now() + 60_000;
    while (!(await reachable(dep.host, dep.port))) {
      if (Date.now() > deadline) throw new Error(`${dep.name} did not come up on ${dep.host}:${dep.port}`);
      await Bun.sleep(250);
    }
    log(`${dep.name} is up`);
  }
}

if (import.meta.main) await ensureInfra();
