/**
 * idempotentBatched against real MariaDB: a create claimed by its key, a row and an
 * outbox row written in two round trips. A retry replays the stored response and
 * writes nothing; concurrent calls with one key make one row; a failing write leaves
 * neither the rows nor the key's claim, so the retry does the work. The sample
 * messages are identity's (the kit knows no domain).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import type { JetStreamClient } from "@nats-io/jetstream";
import { ConnectError, Code } from "@connectrpc/connect";
import { AccountCreatedSchema, type AccountCreated } from "#gen/oasis/identity/v1/events_pb.ts";
import { GetProfileRequestSchema } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { claimedKey, idempotentCreate, type IdempotentCreate } from "./idempotency.ts";
import { createIdGenerator } from "./ids.ts";
import { createLogger } from "./logger.ts";
import { dropDatabase, openDatabase, select, withBatchedTransaction, type Pool } from "./mysql.ts";
import { createOutbox, type Outbox } from "./outbox.ts";
import { testNamespace } from "./testing/namespace.ts";

const ns = testNamespace();
const database = `oasis_${ns}_idem`;
const log = createLogger("kit-test", "silent");
const url = process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
const ids = createIdGenerator(9);
let db: Pool;
let outbox: Outbox;

beforeAll(async () => {
  db = await openDatabase({ url, database, log, multipleStatements: true });
  await db.query("CREATE TABLE things (id BIGINT NOT NULL PRIMARY KEY, owner BIGINT NOT NULL, name VARCHAR(64) NOT NULL, UNIQUE KEY things_name (name))");
  await db.query("CREATE TABLE banned (owner BIGINT NOT NULL PRIMARY KEY)");
  // Only statement() is used: nothing is relayed, so no JetStream client is needed.
  outbox = createOutbox({ pool: db, js: {} as JetStreamClient, ids, namespace: ns, log });
});

afterAll(async () => {
  await db?.end();
  await dropDatabase(url, database);
});

/** A create of the thing `name` by `owner` with request id `requestId` (the request is the name). */
function once(owner: bigint, requestId: string, name: string): IdempotentCreate<typeof AccountCreatedSchema> {
  return idempotentCreate({ scope: "CreateThing", callerId: owner, requestId }, GetProfileRequestSchema, create(GetProfileRequestSchema, { lookup: { case: "handle", value: name } }), AccountCreatedSchema);
}

/** Runs a create: reads the owner's thing count, inserts the thing and its event, answers with its id. */
function createThing(owner: bigint, requestId: string, name: string, failWrite = false) {
  return withBatchedTransaction(db, (tx) =>
    once(owner, requestId, name).runBatched(tx, [{ sql: "SELECT COUNT(*) AS n FROM things WHERE owner = ? FOR UPDATE", params: [owner] }], ([counted]) => {
      const n = Number((counted as Array<{ n: string }>)[0]!.n);
      const response = create(AccountCreatedSchema, { userId: ids.next(), handle: `${name}#${n + 1}` });
      return {
        statements: [
          { sql: "INSERT INTO things (id, owner, name) VALUES (?, ?, ?)", params: [response.userId, owner, name] },
          outbox.statement(AccountCreatedSchema, response),
          // A write that fails after the others ran: the whole transaction must go.
          ...(failWrite ? [{ sql: "INSERT INTO things (id, owner, name) VALUES (?, ?, ?)", params: [ids.next(), owner, name] }] : []),
        ],
        response,
      };
    }),
  );
}

const counts = async () => {
  const [r] = await select<{ things: string; events: string; keys: string }>(
    db,
    "SELECT (SELECT COUNT(*) FROM things) AS things, (SELECT COUNT(*) FROM outbox) AS events, (SELECT COUNT(*) FROM request_log) AS `keys`",
  );
  return { things: Number(r!.things), events: Number(r!.events), keys: Number(r!.keys) };
};
const bytes = (m: AccountCreated) => Buffer.from(toBinary(AccountCreatedSchema, m)).toString("hex");

test("a retry with the same key replays the stored response and writes nothing; another request under it is invalid_argument", async () => {
  const before = await counts();
  const first = await createThing(1n, "req-1", "alpha");
  expect(first.replayed).toBe(false);
  expect(first.response.handle).toBe("alpha#1");
  const again = await createThing(1n, "req-1", "alpha");
  expect(again.replayed).toBe(true);
  expect(bytes(again.response)).toBe(bytes(first.response));
  expect(await counts()).toEqual({ things: before.things + 1, events: before.events + 1, keys: before.keys + 1 });
  const err = await createThing(1n, "req-1", "beta").catch((e: unknown) => ConnectError.from(e));
  expect((err as ConnectError).code).toBe(Code.InvalidArgument);
  // The key is the caller's: another caller's identical key is a new create.
  expect((await createThing(2n, "req-1", "alpha-2")).replayed).toBe(false);
});

test("concurrent calls with one key make one row and all get its response", async () => {
  const before = await counts();
  const results = await Promise.all(Array.from({ length: 6 }, () => createThing(3n, "req-c", "gamma")));
  expect(results.filter((r) => !r.replayed)).toHaveLength(1);
  expect(new Set(results.map((r) => bytes(r.response))).size).toBe(1);
  expect(await counts()).toEqual({ things: before.things + 1, events: before.events + 1, keys: before.keys + 1 });
});

test("a failing write leaves no row, no event and no claim on the key; the retry does the work", async () => {
  const before = await counts();
  const err = await createThing(4n, "req-f", "delta", true).catch((e: { errno?: number }) => e);
  expect((err as { errno?: number }).errno).toBe(1062);
  expect(await counts()).toEqual(before);
  const retry = await createThing(4n, "req-f", "delta");
  expect(retry.replayed).toBe(false);
  expect(await counts()).toEqual({ things: before.things + 1, events: before.events + 1, keys: before.keys + 1 });
});

test("without a request id every call does the work", async () => {
  const before = await counts();
  const [a, b] = [await createThing(5n, "", "eps-1"), await createThing(5n, "", "eps-2")];
  expect([a.replayed, b.replayed]).toEqual([false, false]);
  expect(b.response.handle).toBe("eps-2#2");
  expect(await counts()).toEqual({ things: before.things + 2, events: before.events + 2, keys: before.keys });
});

/**
 * A create in one round trip (idempotentGuarded): the owner's ban row locked, the key
 * claimed only if the owner is not banned, the thing and its event only if claimed.
 * Undefined when the guard failed (the caller would take the two round trips).
 */
function createThingGuarded(owner: bigint, requestId: string, name: string, guardOnly = false) {
  const response = create(AccountCreatedSchema, { userId: ids.next(), handle: name });
  return withBatchedTransaction(db, (tx) =>
    once(owner, requestId, name).runGuarded(tx, [{ sql: "SELECT owner FROM banned WHERE owner = ? FOR UPDATE", params: [owner] }], { sql: "NOT EXISTS (SELECT 1 FROM banned WHERE owner = ?)", params: [owner] }, {
      statements: [
        { sql: `INSERT INTO things (id, owner, name) SELECT ?, ?, ? FROM DUAL WHERE ${claimedKey}`, params: [response.userId, owner, name] },
        outbox.statement(AccountCreatedSchema, response, claimedKey),
      ],
      response,
    }, guardOnly),
  );
}

test("one round trip: a create, its replay (nothing written), another request under the key (invalid_argument), concurrent calls (one row)", async () => {
  const before = await counts();
  const first = (await createThingGuarded(6n, "req-g", "zeta"))!;
  expect(first.replayed).toBe(false);
  const again = (await createThingGuarded(6n, "req-g", "zeta"))!;
  expect(again.replayed).toBe(true);
  expect(bytes(again.response)).toBe(bytes(first.response));
  // The two-round-trip path replays the same key's response too.
  expect(bytes((await createThing(6n, "req-g", "zeta")).response)).toBe(bytes(first.response));
  expect(await counts()).toEqual({ things: before.things + 1, events: before.events + 1, keys: before.keys + 1 });
  const err = await createThingGuarded(6n, "req-g", "eta").catch((e: unknown) => ConnectError.from(e));
  expect((err as ConnectError).code).toBe(Code.InvalidArgument);
  const results = await Promise.all(Array.from({ length: 6 }, () => createThingGuarded(7n, "req-gc", "theta")));
  expect(results.filter((r) => !r!.replayed)).toHaveLength(1);
  expect(new Set(results.map((r) => bytes(r!.response))).size).toBe(1);
  expect(await counts()).toEqual({ things: before.things + 2, events: before.events + 2, keys: before.keys + 2 });
});

test("one round trip: when the guard fails nothing is written and the key stays free; a key used before still replays", async () => {
  const used = (await createThingGuarded(8n, "req-b1", "iota"))!;
  await db.query("INSERT INTO banned (owner) VALUES (8)");
  const before = await counts();
  expect(await createThingGuarded(8n, "req-b2", "kappa")).toBeUndefined();
  expect(await counts()).toEqual(before);
  // The key was not claimed: the two-round-trip path can still use it.
  expect((await createThing(8n, "req-b2", "kappa")).replayed).toBe(false);
  // A retry of a create that succeeded before the ban gets its answer.
  const replay = (await createThingGuarded(8n, "req-b1", "iota"))!;
  expect(replay.replayed).toBe(true);
  expect(bytes(replay.response)).toBe(bytes(used.response));
});

test("one round trip without a request id: the guard alone decides (guardOnly); without guardOnly nothing is sent", async () => {
  const before = await counts();
  expect(await createThingGuarded(9n, "", "lambda")).toBeUndefined();
  expect(await counts()).toEqual(before);
  const done = (await createThingGuarded(9n, "", "lambda", true))!;
  expect(done.replayed).toBe(false);
  const [row] = await select<{ name: string }>(db, "SELECT name FROM things WHERE id = ?", [done.response.userId]);
  expect(row?.name).toBe("lambda");
  expect(await counts()).toEqual({ things: before.things + 1, events: before.events + 1, keys: before.keys });
  await db.query("INSERT INTO banned (owner) VALUES (9)");
  expect(await createThingGuarded(9n, "", "mu", true)).toBeUndefined();
  expect(await counts()).toEqual({ things: before.things + 1, events: before.events + 1, keys: before.keys });
});
