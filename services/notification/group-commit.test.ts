/**
 * store.ts deliverGroup and deliverGroupSet (OASIS_NOTIFICATION_SET_COMMIT) with kit/consumer.ts applyAllOnceBatched against a real MariaDB
 * (notification's own migrations): several events' deliveries in one commit open a
 * group once, join it in delivery order (an actor already in the group changes
 * nothing), keep the latest three actors and an exact count across commits, and a
 * batch holding an event already applied writes nothing, so the caller can redo it
 * event by event.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { applyAllOnceBatched } from "#kit/consumer.ts";
import { createLogger } from "#kit/logger.ts";
import { dropDatabase, openDatabase, select, type Pool } from "#kit/mysql.ts";
import { testNamespace } from "#kit/testing/namespace.ts";
import { NotificationKind } from "#gen/oasis/notification/v1/notification_pb.ts";
import type { Delivery } from "./domain/model.ts";
import { loadNotificationConfig, type NotificationConfig } from "./config.ts";
import type { NotificationContext } from "./context.ts";
import { consumers, GroupCommit } from "./events.ts";
import { deliverGroup, deliverGroupSet, notificationStore } from "./store.ts";

const url = process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
const database = `oasis_${testNamespace()}_notification`;
let db: Pool;
let next = 1_000n;
const nextId = () => ++next;

beforeAll(async () => {
  db = await openDatabase({ url, database, migrationsDir: join(import.meta.dir, "migrations"), multipleStatements: true, log: createLogger("group-commit-test", "silent") });
});
afterAll(async () => {
  await db?.end();
  await dropDatabase(url, database);
});

const like = (recipientId: bigint, actorId: bigint): Delivery => ({ recipientId, actorId, kind: NotificationKind.LIKE, groupKey: "like:9", postId: 9n, commentId: 0n, text: "" });
const follow = (recipientId: bigint, actorId: bigint): Delivery => ({ recipientId, actorId, kind: NotificationKind.FOLLOW, groupKey: "follow", postId: 0n, commentId: 0n, text: "" });

/** Stores `ds` for events `ids` in one group commit; the per-delivery result, or "refused". */
async function commitWith(write: typeof deliverGroup, consumer: string, ids: bigint[], ds: Delivery[]): Promise<Array<bigint | undefined> | "refused"> {
  let out: Array<bigint | undefined> = [];
  const ok = await applyAllOnceBatched(db, consumer, ids, async (tx, claim) => {
    out = await write(tx, claim, ds, nextId);
  });
  return ok ? out : "refused";
}

const entries = (recipient: bigint) =>
  select<{ group_key: string; actor_ids: string | string[]; actor_count: number }>(db, "SELECT group_key, actor_ids, actor_count FROM notifications WHERE recipient_id = ? ORDER BY group_key", [recipient]).then((rows) =>
    rows.map((r) => [r.group_key, typeof r.actor_ids === "string" ? JSON.parse(r.actor_ids) : r.actor_ids, r.actor_count]),
  );

// Both writers (deliverGroup, and deliverGroupSet: OASIS_NOTIFICATION_SET_COMMIT) must
// leave the same rows; each runs on its own recipients and consumer name.
for (const [name, write, R10, R11] of [
  ["deliverGroup", deliverGroup, 10n, 11n],
  ["deliverGroupSet", deliverGroupSet, 20n, 21n],
] as const) {
  const commit = (ids: bigint[], ds: Delivery[]) => commitWith(write, `notification-test-${name}`, ids, ds);
  const actorsOf = async (recipient: bigint) =>
    Number((await select<{ n: string }>(db, "SELECT COUNT(*) AS n FROM notification_actors a JOIN notifications n ON n.id = a.id WHERE n.recipient_id = ?", [recipient]))[0]!.n);

  test(`${name}: one commit opens a group once and joins it in order; an actor already in it changes nothing`, async () => {
    const out = await commit([1n, 2n, 3n, 4n], [like(R10, 1n), like(R10, 2n), like(R10, 1n), follow(R10, 3n)]);
    expect(out).not.toBe("refused");
    const got = out as Array<bigint | undefined>;
    expect(got.map((x) => x !== undefined)).toEqual([true, true, false, true]);
    expect(await entries(R10)).toEqual([
      ["follow", ["3"], 1],
      ["like:9", ["2", "1"], 2],
    ]);
    expect(await actorsOf(R10)).toBe(3);
  });

  test(`${name}: later commits join the open group: the latest three actors, the exact count`, async () => {
    expect(await commit([5n], [like(R10, 4n)])).not.toBe("refused");
    expect(await commit([6n, 7n], [like(R10, 5n), like(R10, 2n)])).not.toBe("refused");
    expect((await entries(R10))[1]).toEqual(["like:9", ["5", "4", "2"], 4]);
  });

  test(`${name}: a batch with an event already applied writes nothing`, async () => {
    expect(await commit([8n, 5n], [like(R11, 1n), like(R10, 6n)])).toBe("refused");
    expect(await entries(R11)).toEqual([]);
    expect((await entries(R10))[1]).toEqual(["like:9", ["5", "4", "2"], 4]);
    // The new event alone goes through (the caller's one-by-one redo).
    expect(await commit([8n], [like(R11, 1n)])).not.toBe("refused");
    expect(await entries(R11)).toEqual([["like:9", ["1"], 1]]);
  });
}

// events.ts GroupCommit and the follow/like consumers' concurrency: events handed in
// together go in commits of at most `max`, each applied once; by default
// (OASIS_NOTIFICATION_GROUP_COMMIT) a commit takes 256 events and the follow and like
// consumers take that many at once.
/** A context whose store notes each commit attempt's recipients (in `batches`) before writing. */
const groupCtx = (config: Partial<NotificationConfig>, batches: string[]) =>
  ({
    rt: { db, ids: { next: nextId }, config: { ...loadNotificationConfig({ OASIS_DEV: "1" }), ...config } },
    store: {
      ...notificationStore,
      deliverGroupSet: (...args: Parameters<typeof deliverGroupSet>) => {
        batches.push(args[2].map((d) => String(d.recipientId)).join(","));
        return deliverGroupSet(...args);
      },
    },
    live: { publish() {} },
  }) as unknown as NotificationContext;

test("GroupCommit: 2 x max events handed in together go in two full commits, each event applied once", async () => {
  const batches: string[] = [];
  const commit = new GroupCommit(groupCtx({}, batches), "notification-test-full", 4);
  const meta = (eventId: bigint) => ({ eventId, subject: "s", occurredAtMs: 0, storedAtMs: 0, startedAtMs: 0, deliveryCount: 1 });
  const ids = [101n, 102n, 103n, 104n, 105n, 106n, 107n, 108n];
  await Promise.all(ids.map((id, i) => commit.add(meta(id), [{ ...follow(30n + BigInt(i), 7n), knownRelation: { muting: false } }])));
  // Two commits run at once, so InnoDB may roll one back as a deadlock victim
  // (applyAllOnceBatched then retries the same batch): count distinct batches, not attempts.
  expect([...new Set(batches)].sort()).toEqual(["30,31,32,33", "34,35,36,37"]);
  for (let i = 0; i < ids.length; i++) expect(await entries(30n + BigInt(i))).toEqual([["follow", ["7"], 1]]);
});

test("by default a group commit takes 256 events and the follow and like consumers take 256 at once", () => {
  expect(loadNotificationConfig({ OASIS_DEV: "1" }).groupCommit).toBe(256);
  const concurrencyOf = (config: Partial<NotificationConfig>) =>
    Object.fromEntries(consumers(groupCtx(config, [])).map((c) => [c.name, c.concurrency]));
  expect(concurrencyOf({})).toMatchObject({ "notification-graph": 256, "notification-interaction": 256, "notification-post": 8 });
  expect(concurrencyOf({ groupCommit: 0 })).toMatchObject({ "notification-graph": 8, "notification-interaction": 8 });
});
