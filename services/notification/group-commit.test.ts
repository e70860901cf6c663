/**
 * store.ts deliverGroup with kit/consumer.ts applyAllOnceBatched against a real MariaDB
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
import { deliverGroup } from "./store.ts";

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
async function commit(ids: bigint[], ds: Delivery[]): Promise<Array<bigint | undefined> | "refused"> {
  let out: Array<bigint | undefined> = [];
  const ok = await applyAllOnceBatched(db, "notification-test", ids, async (tx, claim) => {
    out = await deliverGroup(tx, claim, ds, nextId);
  });
  return ok ? out : "refused";
}

const entries = (recipient: bigint) =>
  select<{ group_key: string; actor_ids: string | string[]; actor_count: number }>(db, "SELECT group_key, actor_ids, actor_count FROM notifications WHERE recipient_id = ? ORDER BY group_key", [recipient]).then((rows) =>
    rows.map((r) => [r.group_key, typeof r.actor_ids === "string" ? JSON.parse(r.actor_ids) : r.actor_ids, r.actor_count]),
  );

test("one commit opens a group once and joins it in order; an actor already in it changes nothing", async () => {
  const out = await commit([1n, 2n, 3n, 4n], [like(10n, 1n), like(10n, 2n), like(10n, 1n), follow(10n, 3n)]);
  expect(out).not.toBe("refused");
  const got = out as Array<bigint | undefined>;
  expect(got.map((x) => x !== undefined)).toEqual([true, true, false, true]);
  expect(await entries(10n)).toEqual([
    ["follow", ["3"], 1],
    ["like:9", ["2", "1"], 2],
  ]);
  const actors = await select<{ n: string }>(db, "SELECT COUNT(*) AS n FROM notification_actors");
  expect(Number(actors[0]!.n)).toBe(3);
});

test("later commits join the open group: the latest three actors, the exact count", async () => {
  expect(await commit([5n], [like(10n, 4n)])).not.toBe("refused");
  expect(await commit([6n, 7n], [like(10n, 5n), like(10n, 2n)])).not.toBe("refused");
  expect((await entries(10n))[1]).toEqual(["like:9", ["5", "4", "2"], 4]);
});

test("a batch with an event already applied writes nothing", async () => {
  expect(await commit([8n, 5n], [like(11n, 1n), like(10n, 6n)])).toBe("refused");
  expect(await entries(11n)).toEqual([]);
  expect((await entries(10n))[1]).toEqual(["like:9", ["5", "4", "2"], 4]);
  // The new event alone goes through (the caller's one-by-one redo).
  expect(await commit([8n], [like(11n, 1n)])).not.toBe("refused");
  expect(await entries(11n)).toEqual([["like:9", ["1"], 1]]);
});
