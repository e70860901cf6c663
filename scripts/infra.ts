/**
 * Makes sure MariaDB, Redis and NATS (with JetStream) answer on their local ports,
 * starting any that is down with the machine's own binaries (Debian packages). Used by
 * the test command, the mesh and the demo, so a fresh machine needs no manual step.
 * Remote infrastructure (OASIS_*_URL pointing elsewhere) is only checked, never started.
 */
import net from "node:net";
import { existsSync } from "node:fs";
import mysql from "mysql2/promise";
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
      start: ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", String(redis.port), "--save", "", "--appendonly", "no", "--tracking-table-max-keys", "1000000"],
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
  await ensureConnectionRoom(log);
}

/**
 * Connections a local MariaDB must allow: a whole mesh is 12 processes with pools of
 * up to 10 (kit/mysql.ts) plus outbox relays, and a test may run two meshes while the
 * one before it is still closing. Debian's default is 151, which a demo mesh beside a
 * test mesh used up ("Too many connections").
 */
export const mysqlMaxConnections = 1000;

/**
 * Raises a local MariaDB's max_connections to `mysqlMaxConnections` when it is lower
 * (SET GLOBAL, which lasts until the server restarts, when this runs again). A remote
 * database is left as its operator set it.
 */
async function ensureConnectionRoom(log: (line: string) => void): Promise<void> {
  const url = sharedConfig(process.env).mysqlUrl;
  if (!local(new URL(url).hostname)) return;
  const conn = await mysql.createConnection({ uri: url, connectTimeout: 10_000 });
  try {
    const [rows] = await conn.query("SELECT @@GLOBAL.max_connections AS n");
    const current = Number((rows as { n: number }[])[0]!.n);
    if (current >= mysqlMaxConnections) return;
    await conn.query(`SET GLOBAL max_connections = ${mysqlMaxConnections}`);
    log(`MariaDB max_connections raised from ${current} to ${mysqlMaxConnections} (until it restarts)`);
  } finally {
    await conn.end();
  }
}

if (import.meta.main) await ensureInfra();
