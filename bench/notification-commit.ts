/**
 * Notification's group commit alone, against MariaDB (a scratch database with
 * notification's migrations): store.ts deliverGroup (a point lookup per group, two or
 * three statements per delivery) against deliverGroupSet (OASIS_NOTIFICATION_SET_COMMIT:
 * a fixed number of statements per commit), rounds interleaved (a, b, a, b, ...). Each
 * commit holds `batch` events as the consumer hands them in under a follow import (the
 * demo's BatchCreateFollows: one follower, `batch` distinct followees among `users`, their
 * "follow" groups mostly open already) or under likes (`batch` likers of 20 posts).
 * `inflight` commits run at once, as GroupCommit allows two. Prints events/s, wall ms per
 * commit and mariadbd CPU us per event (the server's whole CPU, so other work on the box
 * falls on both variants alike), and the ratios b / a.
 *
 * Run: bun bench/notification-commit.ts [rounds, default 6] [commits per round, default 60] [batch, default 64] [inflight, default 2]
 */
import { execSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { applyAllOnceBatched } from "../kit/consumer.ts";
import { createLogger } from "../kit/logger.ts";
import { dropDatabase, openDatabase } from "../kit/mysql.ts";
import { testNamespace } from "../kit/testing/namespace.ts";
import { NotificationKind } from "../gen/oasis/notification/v1/notification_pb.ts";
import type { Delivery } from "../services/notification/domain/model.ts";
import { deliverGroup, deliverGroupSet } from "../services/notification/store.ts";

const rounds = Number(process.argv[2] ?? 6);
const commits = Number(process.argv[3] ?? 60);
const batch = Number(process.argv[4] ?? 64);
const inflight = Number(process.argv[5] ?? 2);
const users = 962;

const url = process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
const database = `oasis_${testNamespace()}_notification`;
const db = await openDatabase({ url, database, migrationsDir: join(import.meta.dir, "..", "services", "notification", "migrations"), multipleStatements: true, connectionLimit: 8, log: createLogger("notification-commit-bench", "silent") });
const mariadb = Number(execSync("pgrep -o mariadbd").toString().trim());
const tick = 100; // USER_HZ
const cpuSeconds = () => {
  const f = readFileSync(`/proc/${mariadb}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / tick;
};
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

let id = 1_000_000n;
const nextId = () => ++id;
let eventId = 0n;
let actor = 10_000n;
const follows = (): Delivery[] => {
  const follower = ++actor;
  const seen = new Set<number>();
  while (seen.size < batch) seen.add(1 + Math.floor(Math.random() * users));
  return [...seen].map((r) => ({ recipientId: BigInt(r), actorId: follower, kind: NotificationKind.FOLLOW, groupKey: "follow", postId: 0n, commentId: 0n, text: "" }));
};
const likes = (): Delivery[] =>
  Array.from({ length: batch }, () => {
    const post = 1 + Math.floor(Math.random() * 20);
    return { recipientId: BigInt(post), actorId: BigInt(1 + Math.floor(Math.random() * users)), kind: NotificationKind.LIKE, groupKey: `like:${post}`, postId: BigInt(post), commentId: 0n, text: "" };
  });

const writers = { rows: deliverGroup, set: deliverGroupSet } as const;
type Name = keyof typeof writers;
async function round(name: Name, make: () => Delivery[], width = inflight): Promise<{ rate: number; msPerCommit: number; cpuUsPerEvent: number; failed: number }> {
  const write = writers[name];
  const c0 = cpuSeconds();
  const t0 = performance.now();
  let left = commits;
  let wall = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (left-- > 0) {
        const ds = make();
        const ids = ds.map(() => ++eventId);
        const s = performance.now();
        // A commit that fails after the kit's three deadlock retries is counted (the
        // consumer would redo its events one by one), not timed as a success.
        const ok = await applyAllOnceBatched(db, "bench", ids, (tx, claim) => write(tx, claim, ds, nextId).then(() => {})).catch(() => false);
        if (!ok) failed++;
        wall += performance.now() - s;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const events = commits * batch;
  return { rate: events / seconds, msPerCommit: wall / commits, cpuUsPerEvent: ((cpuSeconds() - c0) * 1e6) / events, failed };
}

try {
  for (const [kind, make] of [["follows", follows], ["likes", likes]] as const) {
    // Warm-up, one commit at a time: open the groups (new groups' gap locks deadlock two commits).
    await round("rows", make, 1);
    const got: Record<Name, Array<Awaited<ReturnType<typeof round>>>> = { rows: [], set: [] };
    for (let r = 1; r <= rounds; r++) {
      for (const name of ["rows", "set"] as const) {
        const x = await round(name, make);
        got[name].push(x);
        console.log(`${kind} round ${r} ${name}: ${x.rate.toFixed(0)} events/s, ${x.msPerCommit.toFixed(1)} ms per commit of ${batch}, mariadbd ${x.cpuUsPerEvent.toFixed(0)} us CPU per event, ${x.failed} commits failed (load ${load()})`);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const m = (n: Name, k: "rate" | "msPerCommit" | "cpuUsPerEvent") => mean(got[n].map((x) => x[k]));
    console.log(
      `RATIO ${kind} set / rows (mean of ${rounds} rounds each): ${m("rows", "rate").toFixed(0)} -> ${m("set", "rate").toFixed(0)} events/s (${(m("set", "rate") / m("rows", "rate")).toFixed(2)}x), ` +
        `${m("rows", "msPerCommit").toFixed(1)} -> ${m("set", "msPerCommit").toFixed(1)} ms per commit, mariadbd ${m("rows", "cpuUsPerEvent").toFixed(0)} -> ${m("set", "cpuUsPerEvent").toFixed(0)} us per event (${(m("set", "cpuUsPerEvent") / m("rows", "cpuUsPerEvent")).toFixed(2)}x)`,
    );
  }
} finally {
  await db.end();
  await dropDatabase(url, database);
}
