/**
 * TxBatcher (group commit) against real MariaDB: the calls of one turn share one
 * transaction, each gets its own outcome, a per-call refusal rejects that call only, a
 * failed batch is redone call by call (the faulty call alone failing), batches hold at
 * most `max` calls, and `max` <= 1 runs every call alone.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { createLogger } from "./logger.ts";
import { dropDatabase, openDatabase, select, withBatchedTransaction, type Pool } from "./mysql.ts";
import { TxBatcher, type TxBatcherOptions } from "./tx-batcher.ts";
import { testNamespace } from "./testing/namespace.ts";

const database = `oasis_${testNamespace()}_txbatch`;
const url = process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
let db: Pool;

beforeAll(async () => {
  db = await openDatabase({ url, database, log: createLogger("tx-batcher-test", "silent"), multipleStatements: true });
  // `note` is NOT NULL: an item whose note is null makes its batch's INSERT fail.
  await db.query("CREATE TABLE items (k INT NOT NULL PRIMARY KEY, note VARCHAR(20) NOT NULL)");
  await db.query("CREATE TABLE commits (n INT NOT NULL)");
});

afterAll(async () => {
  await db?.end();
  await dropDatabase(url, database);
});

/** One call: key `k` with `note`; a negative `k` is refused (an Error outcome, nothing written). */
interface Item {
  readonly k: number;
  readonly note: string | null;
}
type Outcome = "created" | "existed";

/**
 * A batcher over `items`: per call, insert the row unless it is there or the call is
 * refused (a plain INSERT, so a null note fails the statement) and keep ROW_COUNT();
 * per batch, one `commits` row (so the test can count transactions).
 */
function batcher(max: number, committed: { n: number }, registry?: Registry, after?: TxBatcherOptions<Item, Outcome>["after"]): TxBatcher<Item, Outcome> {
  const opts: TxBatcherOptions<Item, Outcome> = {
    ...(registry && { metrics: { registry, name: "items" } }),
    ...(after && { after }),
    pool: db,
    max,
    plan(items) {
      return {
        statements: [
          ...items.flatMap((i) => [
            { sql: "INSERT INTO items (k, note) SELECT ?, ? FROM DUAL WHERE ? >= 0 AND NOT EXISTS(SELECT 1 FROM items WHERE k = ?)", params: [i.k, i.note, i.k, i.k] },
            { sql: "SELECT ROW_COUNT() AS n" },
          ]),
          { sql: "INSERT INTO commits (n) VALUES (?)", params: [items.length] },
        ],
        outcomes: (results) =>
          items.map((i, at) => {
            if (i.k < 0) return new Error(`refused ${i.k}`);
            return Number((results[at * 2 + 1] as Array<{ n: number }>)[0]!.n) === 1 ? "created" : "existed";
          }),
      };
    },
    async alone(i) {
      if (i.k < 0) throw new Error(`refused ${i.k} alone`);
      return withBatchedTransaction(db, async (tx) => {
        const [res] = (await tx.run(
          [
            { sql: "INSERT INTO items (k, note) SELECT ?, ? FROM DUAL WHERE NOT EXISTS(SELECT 1 FROM items WHERE k = ?)", params: [i.k, i.note, i.k] },
            { sql: "INSERT INTO commits (n) VALUES (1)" },
          ],
          { commit: true },
        )) as [{ affectedRows: number }];
        return res.affectedRows === 1 ? "created" : "existed";
      });
    },
    committed: () => committed.n++,
  };
  return new TxBatcher(opts);
}

const commitSizes = async () => (await select<{ n: number }>(db, "SELECT n FROM commits ORDER BY n")).map((r) => r.n);
const reset = async () => {
  await db.query("DELETE FROM items");
  await db.query("DELETE FROM commits");
};

test("the calls of one turn go in one transaction, each with its own outcome", async () => {
  await reset();
  await db.query("INSERT INTO items (k, note) VALUES (3, 'before')");
  const committed = { n: 0 };
  const b = batcher(64, committed);
  const outcomes = await Promise.all([1, 2, 3, 4, 2].map((k) => b.add({ k, note: `n${k}` })));
  // 3 was there before; the second 2 comes after the first in the same transaction.
  expect(outcomes).toEqual(["created", "created", "existed", "created", "existed"]);
  expect(await commitSizes()).toEqual([5]);
  expect(committed.n).toBe(1);
  expect(b.stats).toEqual({ batches: 1, batchedItems: 5, alone: 0, failedBatches: 0 });
  expect((await select<{ k: number }>(db, "SELECT k FROM items ORDER BY k")).map((r) => r.k)).toEqual([1, 2, 3, 4]);
});

test("a refused call fails alone; the rest of its batch commits", async () => {
  await reset();
  const b = batcher(64, { n: 0 });
  const settled = await Promise.allSettled([10, -11, 12].map((k) => b.add({ k, note: "x" })));
  expect(settled.map((s) => (s.status === "fulfilled" ? s.value : (s.reason as Error).message))).toEqual(["created", "refused -11", "created"]);
  expect(await commitSizes()).toEqual([3]);
  expect((await select<{ k: number }>(db, "SELECT k FROM items ORDER BY k")).map((r) => r.k)).toEqual([10, 12]);
});

test("a failed batch is rolled back and redone call by call; only the faulty call fails", async () => {
  await reset();
  const committed = { n: 0 };
  const b = batcher(64, committed);
  const settled = await Promise.allSettled([
    b.add({ k: 20, note: "a" }),
    b.add({ k: 21, note: null }),
    b.add({ k: 22, note: "c" }),
  ]);
  expect(settled[0]).toEqual({ status: "fulfilled", value: "created" });
  expect(settled[1]!.status).toBe("rejected");
  expect((settled[1] as PromiseRejectedResult).reason.errno).toBe(1048); // ER_BAD_NULL_ERROR
  expect(settled[2]).toEqual({ status: "fulfilled", value: "created" });
  // No commit of the batch (its `commits` row rolled back): two lone commits of one.
  expect(await commitSizes()).toEqual([1, 1]);
  expect(committed.n).toBe(0);
  expect(b.stats).toEqual({ batches: 0, batchedItems: 0, alone: 3, failedBatches: 1 });
  expect((await select<{ k: number }>(db, "SELECT k FROM items ORDER BY k")).map((r) => r.k)).toEqual([20, 22]);
});

test("a batch holds at most `max` calls; a lone call runs alone", async () => {
  await reset();
  const b = batcher(4, { n: 0 });
  const outcomes = await Promise.all(Array.from({ length: 9 }, (_, i) => b.add({ k: 30 + i, note: "m" })));
  expect(outcomes.every((o) => o === "created")).toBe(true);
  // 9 calls in one turn: 4 and 4 at once (full), the ninth after them, alone.
  expect(await commitSizes()).toEqual([1, 4, 4]);
  expect(b.stats).toEqual({ batches: 2, batchedItems: 8, alone: 1, failedBatches: 0 });
});

test("max <= 1 runs every call alone", async () => {
  await reset();
  const b = batcher(1, { n: 0 });
  expect(await Promise.all([40, 41].map((k) => b.add({ k, note: "o" })))).toEqual(["created", "created"]);
  expect(await b.add({ k: 40, note: "o" })).toBe("existed");
  expect(await commitSizes()).toEqual([1, 1, 1]);
  expect(b.stats).toEqual({ batches: 0, batchedItems: 0, alone: 3, failedBatches: 0 });
});

test("the registry's counters read the batcher's stats when scraped", async () => {
  await reset();
  const registry = new Registry();
  const b = batcher(64, { n: 0 }, registry);
  await Promise.all([50, 51, 52].map((k) => b.add({ k, note: "r" })));
  await b.add({ k: 53, note: "r" });
  const text = await registry.metrics();
  expect(text).toContain('tx_batcher_items_total{batcher="items",path="batched"} 3');
  expect(text).toContain('tx_batcher_items_total{batcher="items",path="alone"} 1');
  expect(text).toContain('tx_batcher_batches_total{batcher="items",outcome="committed"} 1');
  expect(text).toContain('tx_batcher_batches_total{batcher="items",outcome="failed"} 0');
});

test("`after` runs once per committed batch, before its calls are answered; its failure fails them all", async () => {
  await reset();
  const seen: string[] = [];
  const b = batcher(64, { n: 0 }, undefined, async (items, outcomes) => {
    seen.push(`after ${items.map((i) => i.k).join(",")} ${outcomes.map((o) => (o instanceof Error ? "refused" : o)).join(",")}`);
  });
  const calls = [60, -61, 60].map((k) => b.add({ k, note: "a" }).then((o) => void seen.push(`answered ${k} ${o}`), (e: Error) => void seen.push(`answered ${k} ${e.message}`)));
  await Promise.all(calls);
  expect(seen).toEqual(["after 60,-61,60 created,refused,existed", "answered 60 created", "answered -61 refused -61", "answered 60 existed"]);
  const failing = batcher(64, { n: 0 }, undefined, async () => {
    throw new Error("after failed");
  });
  const settled = await Promise.allSettled([62, 63].map((k) => failing.add({ k, note: "a" })));
  expect(settled.map((s) => (s.status === "rejected" ? (s.reason as Error).message : s.value))).toEqual(["after failed", "after failed"]);
  // The batch was committed all the same.
  expect((await select<{ k: number }>(db, "SELECT k FROM items WHERE k >= 62 ORDER BY k")).map((r) => r.k)).toEqual([62, 63]);
});
