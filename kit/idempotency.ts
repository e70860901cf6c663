/**
 * Idempotency keys for creates (AIP-155 `request_id`): the first call with a key does
 * the work and stores its response in `request_log` in the same transaction; a retry
 * with the same key and the same request gets the stored response, byte for byte, and
 * changes nothing; the same key with a different request is `invalid_argument`.
 *
 * The key is (scope, caller, request_id): one user's key cannot collide with another's.
 * The placeholder row is inserted first, so a concurrent retry blocks on its key lock
 * until the first commits (then replays it) or rolls back (then does the work itself).
 */
import { createHash } from "node:crypto";
import { fromBinary, toBinary, type DescMessage, type Message, type MessageShape } from "@bufbuild/protobuf";
import { invalidArgument } from "./errors.ts";
import { isDuplicateKey, type BatchedTx, type Queryable, type Statement, type Tx } from "./mysql.ts";

export interface IdempotencyKey {
  /** What kind of create, e.g. "CreatePost". */
  readonly scope: string;
  /** The user making the call; null for anonymous creates (sign-up). */
  readonly callerId: bigint | null;
  /** The client's key; "" disables idempotency for this call. */
  readonly requestId: string;
}

/** SHA-256 of a request message's binary form: equal requests, equal fingerprints. */
export function fingerprint(schema: DescMessage, request: Message): Buffer {
  return createHash("sha256").update(toBinary(schema, request as never)).digest();
}

/**
 * The stored response for a key, if a committed call already used it with the same
 * request (a cheap, non-locking read that lets a retry skip expensive work such as
 * password hashing before `idempotent` runs). A different request under the key throws
 * like `idempotent` does.
 */
export async function storedResponse<D extends DescMessage>(
  db: Queryable,
  key: IdempotencyKey,
  requestFingerprint: Buffer,
  responseSchema: D,
): Promise<MessageShape<D> | undefined> {
  if (!key.requestId) return undefined;
  const [rows] = await db.query(
    "SELECT fingerprint, response FROM request_log WHERE scope = ? AND caller_id = ? AND request_id = ? AND LENGTH(response) > 0",
    [key.scope, key.callerId ?? 0n, key.requestId],
  );
  const row = (rows as Array<{ fingerprint: Buffer; response: Buffer }>)[0];
  if (!row) return undefined;
  if (!row.fingerprint.equals(requestFingerprint)) {
    throw invalidArgument([{ field: "request_id", description: "was already used for a different request" }]);
  }
  return fromBinary(responseSchema, row.response);
}

/**
 * Runs `produce` at most once per key inside `tx`, returning its response or, for a
 * retry, the stored one. Returns `{ replayed: true }` for a retry so callers skip
 * side effects that are not in `tx` (such as kicking the outbox).
 */
export async function idempotent<D extends DescMessage>(
  tx: Tx,
  key: IdempotencyKey,
  requestFingerprint: Buffer,
  responseSchema: D,
  produce: () => Promise<MessageShape<D>>,
): Promise<{ response: MessageShape<D>; replayed: boolean }> {
  if (!key.requestId) return { response: await produce(), replayed: false };
  const pk = [key.scope, key.callerId ?? 0n, key.requestId];
  try {
    await tx.query(
      "INSERT INTO request_log (scope, caller_id, request_id, fingerprint, response) VALUES (?, ?, ?, ?, '')",
      [...pk, requestFingerprint],
    );
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    // A locking read sees the latest committed row, not this transaction's snapshot.
    const [rows] = await tx.query(
      "SELECT fingerprint, response FROM request_log WHERE scope = ? AND caller_id = ? AND request_id = ? FOR UPDATE",
      pk,
    );
    const row = (rows as Array<{ fingerprint: Buffer; response: Buffer }>)[0];
    if (!row) throw err;
    if (!row.fingerprint.equals(requestFingerprint)) {
      throw invalidArgument([{ field: "request_id", description: "was already used for a different request" }]);
    }
    return { response: fromBinary(responseSchema, row.response), replayed: true };
  }
  const response = await produce();
  await tx.query("UPDATE request_log SET response = ? WHERE scope = ? AND caller_id = ? AND request_id = ?", [
    Buffer.from(toBinary(responseSchema, response)),
    ...pk,
  ]);
  return { response, replayed: false };
}

/** What a batched create writes, given what its reads found: the statements and the response they produce. */
export interface BatchedWrites<D extends DescMessage> {
  readonly statements: readonly Statement[];
  readonly response: MessageShape<D>;
  /**
   * The response's encoding when the caller has it already (stored as given, not encoded
   * again), or (idempotentGuarded only) an SQL expression of the caller's code giving it
   * at that point of the batch, e.g. a session variable an earlier write set.
   */
  readonly encoded?: Uint8Array | { readonly sql: string };
}

/**
 * `idempotent` in two round trips of a batched transaction (kit/mysql.ts
 * withBatchedTransaction), where `idempotent` inside `withTransaction` pays one for
 * BEGIN, the key's insert, each of the caller's statements, the response's store and
 * COMMIT. The first round trip claims the key (INSERT IGNORE of the placeholder, then a
 * share-locking read of the key's row, so a concurrent call with the key waits until
 * the first commits or rolls back) and runs `reads` (the caller's reads, with their
 * locks). If the key was already used, its stored response is returned (`replayed`)
 * and the transaction rolls back; a different request under the key is
 * `invalid_argument` on request_id. Otherwise `produce` turns the reads' results (one
 * per statement, in order: rows for a SELECT) into the writes and the response, and the
 * second round trip runs the writes, stores the response and commits. Any error rolls
 * everything back, the key's claim included, so a retry does the work afresh. An empty
 * request_id skips the key; with no reads either, the writes are the only round trip.
 */
export async function idempotentBatched<D extends DescMessage>(
  tx: BatchedTx,
  key: IdempotencyKey,
  requestFingerprint: Buffer,
  responseSchema: D,
  reads: readonly Statement[],
  produce: (readResults: unknown[]) => Promise<BatchedWrites<D>> | BatchedWrites<D>,
): Promise<{ response: MessageShape<D>; replayed: boolean }> {
  const pk = [key.scope, key.callerId ?? 0n, key.requestId];
  const claim: Statement[] = key.requestId
    ? [
        { sql: "INSERT IGNORE INTO request_log (scope, caller_id, request_id, fingerprint, response) VALUES (?, ?, ?, ?, '')", params: [...pk, requestFingerprint] },
        { sql: "SET @oasis_key_new := ROW_COUNT()" },
        // A locking read sees the latest committed row, not the transaction's snapshot.
        { sql: "SELECT @oasis_key_new AS fresh, fingerprint, response FROM request_log WHERE scope = ? AND caller_id = ? AND request_id = ? LOCK IN SHARE MODE", params: pk },
      ]
    : [];
  const first = claim.length + reads.length ? await tx.run([...claim, ...reads]) : [];
  if (claim.length) {
    const row = (first[2] as Array<{ fresh: number | string; fingerprint: Buffer; response: Buffer }>)[0];
    if (!row) throw new Error(`request_log row of ${key.scope} vanished inside its transaction`);
    if (Number(row.fresh) !== 1) {
      if (!row.fingerprint.equals(requestFingerprint)) {
        throw invalidArgument([{ field: "request_id", description: "was already used for a different request" }]);
      }
      return { response: fromBinary(responseSchema, row.response), replayed: true };
    }
  }
  const { statements, response } = await produce(first.slice(claim.length));
  const store: Statement[] = key.requestId
    ? [{ sql: "UPDATE request_log SET response = ? WHERE scope = ? AND caller_id = ? AND request_id = ?", params: [Buffer.from(toBinary(responseSchema, response)), ...pk] }]
    : [];
  await tx.run([...statements, ...store], { commit: true });
  return { response, replayed: false };
}

/**
 * The SQL condition, true in a batch of `idempotentGuarded` exactly when this call
 * claimed its key (without a request id: when its guard held): its writes carry it (e.g.
 * `INSERT ... SELECT ... FROM DUAL WHERE <claimedKey>`, kit/outbox.ts statement's `when`)
 * so that a replay, or a call whose guard failed, writes nothing.
 */
export const claimedKey = "@oasis_key_new = 1";

/**
 * `idempotentBatched` in ONE round trip, for a create whose writes can be decided before
 * its reads come back when a condition holds (the common case), e.g. "the author is not
 * suspended": `reads` run first (with their locks), then the key is claimed only if
 * `guard` (an SQL boolean expression, evaluated after `reads` under their locks) is true,
 * then `writes.statements` (each conditioned on `claimedKey` by the caller), the
 * response's store and COMMIT, all in one batch. Returns the response (`replayed` for a
 * key used before: nothing written; a different request under the key is
 * `invalid_argument` on request_id), or undefined when `guard` was false and the key was
 * not used before: then nothing was written, no key claimed, and the caller takes the
 * two-round-trip path (`idempotentBatched`) that decides from the reads. Without a
 * request_id there is no key: `guardOnly` runs the same batch with `claimedKey` true
 * exactly when `guard` held (undefined otherwise, nothing written); else undefined at
 * once, nothing sent.
 */
export async function idempotentGuarded<D extends DescMessage>(
  tx: BatchedTx,
  key: IdempotencyKey,
  requestFingerprint: Buffer,
  responseSchema: D,
  reads: readonly Statement[],
  guard: Statement,
  writes: BatchedWrites<D>,
  guardOnly = false,
): Promise<{ response: MessageShape<D>; replayed: boolean } | undefined> {
  if (!key.requestId) return guardOnly ? guardedWithoutKey(tx, reads, guard, writes) : undefined;
  const pk = [key.scope, key.callerId ?? 0n, key.requestId];
  const results = await tx.run(
    [
      ...reads,
      {
        sql: `INSERT IGNORE INTO request_log (scope, caller_id, request_id, fingerprint, response) SELECT ?, ?, ?, ?, '' FROM DUAL WHERE ${guard.sql}`,
        params: [...pk, requestFingerprint, ...(guard.params ?? [])],
      },
      { sql: "SET @oasis_key_new := ROW_COUNT()" },
      // A locking read sees the latest committed row, not the transaction's snapshot.
      { sql: "SELECT @oasis_key_new AS fresh, fingerprint, response FROM request_log WHERE scope = ? AND caller_id = ? AND request_id = ? LOCK IN SHARE MODE", params: pk },
      ...writes.statements,
      writes.encoded !== undefined && !(writes.encoded instanceof Uint8Array)
        ? { sql: `UPDATE request_log SET response = ${writes.encoded.sql} WHERE scope = ? AND caller_id = ? AND request_id = ? AND ${claimedKey}`, params: pk }
        : {
            sql: `UPDATE request_log SET response = ? WHERE scope = ? AND caller_id = ? AND request_id = ? AND ${claimedKey}`,
            params: [Buffer.from(writes.encoded ?? toBinary(responseSchema, writes.response)), ...pk],
          },
    ],
    { commit: true },
  );
  const row = (results[reads.length + 2] as Array<{ fresh: number | string; fingerprint: Buffer; response: Buffer }>)[0];
  if (!row) return undefined; // the guard failed and no earlier call used the key
  if (Number(row.fresh) === 1) return { response: writes.response, replayed: false };
  if (!row.fingerprint.equals(requestFingerprint)) {
    throw invalidArgument([{ field: "request_id", description: "was already used for a different request" }]);
  }
  return { response: fromBinary(responseSchema, row.response), replayed: true };
}

/**
 * `idempotentGuarded` for a call without a request id: `reads`, then `claimedKey` set to
 * whether `guard` holds, the writes (each conditioned on it), and the flag read back,
 * COMMIT, in one round trip. The response when the guard held, else undefined (nothing
 * written).
 */
async function guardedWithoutKey<D extends DescMessage>(
  tx: BatchedTx,
  reads: readonly Statement[],
  guard: Statement,
  writes: BatchedWrites<D>,
): Promise<{ response: MessageShape<D>; replayed: boolean } | undefined> {
  const results = await tx.run(
    [...reads, { sql: `SET @oasis_key_new := (${guard.sql})`, params: guard.params ?? [] }, ...writes.statements, { sql: "SELECT @oasis_key_new AS fresh" }],
    { commit: true },
  );
  const row = (results.at(-1) as Array<{ fresh: number | string | null }>)[0];
  return Number(row?.fresh) === 1 ? { response: writes.response, replayed: false } : undefined;
}

/** One create call's idempotency (AIP-155): its key and fingerprint, and the two steps every create takes. */
export interface IdempotentCreate<D extends DescMessage> {
  readonly key: IdempotencyKey;
  /**
   * SHA-256 of the request's encoding; empty without a request id, where no step reads
   * it (a create without a key is neither claimed nor replayed), so such a create does
   * not encode and hash its request for nothing.
   */
  readonly fingerprint: Buffer;
  /**
   * The response a committed earlier call with this key stored, if any (cheap and
   * non-locking: lets a retry skip the work before the transaction); a different
   * request under the key is `invalid_argument` on request_id.
   */
  replay(db: Queryable): Promise<MessageShape<D> | undefined>;
  /** `idempotent` for this key: runs `produce` at most once per key inside `tx`. */
  run(tx: Tx, produce: () => Promise<MessageShape<D>>): Promise<{ response: MessageShape<D>; replayed: boolean }>;
  /**
   * `idempotentGuarded` for this key: one round trip when `guard` holds, else undefined
   * (nothing written). Without a request id: undefined at once, or with `guardOnly` the
   * batch with the guard alone deciding.
   */
  runGuarded(tx: BatchedTx, reads: readonly Statement[], guard: Statement, writes: BatchedWrites<D>, guardOnly?: boolean): Promise<{ response: MessageShape<D>; replayed: boolean } | undefined>;
  /** `idempotentBatched` for this key: the key, `reads` and the writes `produce` returns in two round trips of `tx`. */
  runBatched(
    tx: BatchedTx,
    reads: readonly Statement[],
    produce: (readResults: unknown[]) => Promise<BatchedWrites<D>> | BatchedWrites<D>,
  ): Promise<{ response: MessageShape<D>; replayed: boolean }>;
}

/** The fingerprint of a create without a request id: nothing compares it. */
const noFingerprint = Buffer.alloc(0);

/**
 * The idempotency of a create: `key` (scope, caller, request_id; "" disables it), and
 * `request` as fingerprinted (pass a copy without secrets, e.g. a password, when the
 * request holds one: request_log must never store it).
 */
export function idempotentCreate<Q extends DescMessage, D extends DescMessage>(
  key: IdempotencyKey,
  requestSchema: Q,
  request: MessageShape<Q>,
  responseSchema: D,
): IdempotentCreate<D> {
  const print = key.requestId ? fingerprint(requestSchema, request as Message) : noFingerprint;
  return {
    key,
    fingerprint: print,
    replay: (db) => storedResponse(db, key, print, responseSchema),
    run: (tx, produce) => idempotent(tx, key, print, responseSchema, produce),
    runBatched: (tx, reads, produce) => idempotentBatched(tx, key, print, responseSchema, reads, produce),
    runGuarded: (tx, reads, guard, writes, guardOnly) => idempotentGuarded(tx, key, print, responseSchema, reads, guard, writes, guardOnly),
  };
}
