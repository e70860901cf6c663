/**
 * Property test of the ledger (domain use cases on the real MariaDB store, one database):
 * 1,000 random sequences of earns (with daily caps), gifts, tips, holds, posts, voids,
 * timeouts (a fake clock jumps past expiries) and retries (same key same body, same key
 * other body) run against an in-memory model of TigerBeetle's rules. After every step
 * the outcome, every touched account's four sums and the global totals must equal the
 * model's, and total debits must equal total credits; after each sequence every user's
 * history (ListWalletEntries' rows, newest first) must equal the model's.
 * OASIS_WALLET_PROPERTY_SEQUENCES overrides the 1,000; OASIS_WALLET_PROPERTY_SEED
 * replays a run (the seed is printed).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { databaseName } from "#kit/config.ts";
import { createIdGenerator } from "#kit/ids.ts";
import { createLogger } from "#kit/logger.ts";
import { dropDatabase, openDatabase, select, type Pool } from "#kit/mysql.ts";
import { testNamespace } from "#kit/testing/namespace.ts";
import { earn, type EarnRules } from "./domain/earning.ts";
import { WalletError } from "./domain/errors.ts";
import { give, givingTransferId, resolveHold, type GivingDeps } from "./domain/giving.ts";
import { Code, Kind, deriveTransferId, earnCodes, firstDifference, giveCodes, mintAccountId, utcDay, type Transfer, type TransferCode } from "./domain/ledger.ts";
import { MysqlLedgerStore } from "./store.ts";

const url = process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
const database = databaseName("wallet", testNamespace());
const sequences = Number(process.env.OASIS_WALLET_PROPERTY_SEQUENCES ?? 1000);
const seed = Number(process.env.OASIS_WALLET_PROPERTY_SEED ?? Date.now() % 2 ** 31);
const lanes = 8;

const rules: EarnRules = {
  welcome: { amount: 100n, dailyCap: 100n },
  signIn: { amount: 4n, dailyCap: 4n },
  post: { amount: 5n, dailyCap: 12n },
  like: { amount: 3n, dailyCap: 7n },
  comment: { amount: 2n, dailyCap: 40n },
};
const dailyGivingLimit = 150n;

// mulberry32: a small seeded PRNG so a failing run can be replayed.
function rng(s: number) {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One lane: its own database, store, model, clock and users; the lanes run at once so
 * the test takes a fraction of the time on a mostly idle-waiting (fsync-bound) database.
 */
async function lane(db: Pool, store: MysqlLedgerStore, laneSeed: number, sequences: number, counts: Record<string, number>): Promise<{ steps: number; transfers: number }> {
const random = rng(laneSeed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
// ---- the model -------------------------------------------------------------------
interface Sums {
  dp: bigint;
  cp: bigint;
  dpe: bigint;
  cpe: bigint;
}
const model = {
  accounts: new Map<bigint, Sums>([[mintAccountId, { dp: 0n, cp: 0n, dpe: 0n, cpe: 0n }]]),
  transfers: new Map<bigint, Transfer>(),
  open: new Map<bigint, Transfer>(), // holds not resolved
  resolved: new Map<bigint, "post" | "void">(),
  daily: new Map<string, bigint>(),
  history: new Map<bigint, bigint[]>(), // account -> transfer ids, oldest first
};
const acct = (id: bigint) => {
  let a = model.accounts.get(id);
  if (!a) model.accounts.set(id, (a = { dp: 0n, cp: 0n, dpe: 0n, cpe: 0n }));
  return a;
};
const dayKey = (id: bigint, day: string, code: number) => `${id}|${day}|${code}`;
const dailySum = (id: bigint, day: string, codes: readonly number[]) => codes.reduce((s, c) => s + (model.daily.get(dayKey(id, day, c)) ?? 0n), 0n);
function record(t: Transfer) {
  model.transfers.set(t.id, t);
  for (const a of [t.debitAccountId, t.creditAccountId]) {
    const h = model.history.get(a) ?? [];
    h.push(t.id);
    model.history.set(a, h);
  }
}

type Outcome = { ok: bigint; amount: bigint } | { fail: string } | { capped: true };

function modelCreate(t: Omit<Transfer, "createdAt" | "expiresAt" | "kind" | "pendingId">, pending: boolean, now: Date, opts: { cap?: bigint; limit?: bigint }): Outcome {
  const existing = model.transfers.get(t.id);
  if (existing) return { ok: existing.id, amount: existing.amount };
  const day = utcDay(now);
  let amount = t.amount;
  if (opts.cap !== undefined) {
    const earned = dailySum(t.creditAccountId, day, [t.code]);
    if (earned + amount > opts.cap) amount = opts.cap - earned;
    if (amount <= 0n) return { capped: true };
  }
  const d = acct(t.debitAccountId);
  const c = acct(t.creditAccountId);
  if (t.debitAccountId !== mintAccountId && d.cp - d.dp - d.dpe < amount) return { fail: "insufficient_drops" };
  if (opts.limit !== undefined && dailySum(t.debitAccountId, day, giveCodes) + amount > opts.limit) return { fail: "daily_giving_limit" };
  const full: Transfer = {
    ...t,
    amount,
    kind: pending ? Kind.pending : Kind.single,
    pendingId: null,
    createdAt: now,
    expiresAt: pending ? new Date(now.getTime() + t.timeoutSeconds * 1000) : null,
  };
  record(full);
  if (pending) {
    d.dpe += amount;
    c.cpe += amount;
    model.open.set(full.id, full);
  } else {
    d.dp += amount;
    c.cp += amount;
  }
  const countOn = earnCodes.includes(t.code) ? t.creditAccountId : t.debitAccountId;
  model.daily.set(dayKey(countOn, day, t.code), (model.daily.get(dayKey(countOn, day, t.code)) ?? 0n) + amount);
  return { ok: full.id, amount };
}

function modelResolve(hold: Transfer, action: "post" | "void", now: Date) {
  const d = acct(hold.debitAccountId);
  const c = acct(hold.creditAccountId);
  d.dpe -= hold.amount;
  c.cpe -= hold.amount;
  if (action === "post") {
    d.dp += hold.amount;
    c.cp += hold.amount;
  }
  model.open.delete(hold.id);
  model.resolved.set(hold.id, action);
  record({ ...hold, id: deriveTransferId("resolve", hold.id), kind: action === "post" ? Kind.post : Kind.void, pendingId: hold.id, createdAt: now, expiresAt: null });
}

// ---- the operations ----------------------------------------------------------------
let clock = Date.parse("2026-03-01T20:00:00Z");
const now = () => new Date(clock);
let nextUser = 10_000n;
const blocked = new Set<string>();
const posts = new Map<bigint, bigint>(); // post -> author

interface GiveOp {
  readonly payer: bigint;
  readonly payee: bigint;
  readonly amount: bigint;
  readonly code: TransferCode;
  readonly postId: bigint;
  readonly requestId: string;
  readonly timeoutSeconds: number;
}

const deps: GivingDeps = {
  get store() {
    return store;
  },
  dailyGivingLimit,
  defaultHoldSeconds: 600,
  tipHoldSeconds: 60,
  now,
  authorActive: async () => true,
  blockedBetween: async (a, b) => blocked.has(`${a}|${b}`) || blocked.has(`${b}|${a}`),
  userExists: async (id) => id < 1_000_000_000n,
  postAuthor: async (postId) => posts.get(postId),
};

function modelGive(op: GiveOp): Outcome {
  const id = givingTransferId(op.payer, op.requestId);
  const pending = op.code === Code.hold;
  const timeoutSeconds = pending ? op.timeoutSeconds || deps.defaultHoldSeconds : 0;
  const req = (payee: bigint) => ({
    id,
    debitAccountId: op.payer,
    creditAccountId: payee,
    amount: op.amount,
    pending,
    code: op.code,
    memo: "",
    postId: op.code === Code.tip ? op.postId : 0n,
    timeoutSeconds,
    day: utcDay(now()),
  });
  const existing = model.transfers.get(id);
  if (existing) {
    const differs = firstDifference(existing, req(op.code === Code.tip ? existing.creditAccountId : op.payee));
    return differs ? { fail: "idempotency_key_reused" } : { ok: existing.id, amount: existing.amount };
  }
  let payee = op.payee;
  if (op.code === Code.tip) {
    if (!posts.has(op.postId)) return { fail: "post_not_found" };
    payee = posts.get(op.postId)!;
  } else if (payee >= 1_000_000_000n) return { fail: "user_not_found" };
  if (payee === op.payer) return { fail: "self_transfer" };
  if (blocked.has(`${op.payer}|${payee}`) || blocked.has(`${payee}|${op.payer}`)) return { fail: "blocked" };
  const r = req(payee);
  return modelCreate({ id, debitAccountId: op.payer, creditAccountId: payee, amount: op.amount, code: op.code, memo: "", postId: r.postId, timeoutSeconds }, pending, now(), { limit: dailyGivingLimit });
}

async function realGive(op: GiveOp): Promise<Outcome> {
  try {
    const t = await give(deps, { ...op, payeeId: op.payee, payerId: op.payer, memo: "" });
    return { ok: t.id, amount: t.amount };
  } catch (err) {
    if (err instanceof WalletError) return { fail: err.failure };
    throw err;
  }
}

function modelHoldAction(payer: bigint, holdId: bigint, action: "post" | "void"): Outcome {
  const hold = model.transfers.get(holdId);
  if (!hold || hold.kind !== Kind.pending || hold.debitAccountId !== payer) return { fail: "hold_not_found" };
  const done = model.resolved.get(holdId);
  if (done) return done === action ? { ok: holdId, amount: hold.amount } : { fail: "hold_not_pending" };
  if (action === "post" && hold.expiresAt!.getTime() <= clock) return { fail: "hold_not_pending" };
  modelResolve(hold, action, now());
  return { ok: holdId, amount: hold.amount };
}

async function realHoldAction(payer: bigint, holdId: bigint, action: "post" | "void"): Promise<Outcome> {
  try {
    const t = await resolveHold(deps, payer, holdId, action);
    return { ok: t.id, amount: t.amount };
  } catch (err) {
    if (err instanceof WalletError) return { fail: err.failure };
    throw err;
  }
}

async function expireBoth(): Promise<void> {
  const due = [...model.open.values()]
    .filter((h) => h.expiresAt!.getTime() <= clock)
    .sort((a, b) => a.expiresAt!.getTime() - b.expiresAt!.getTime() || (a.id < b.id ? -1 : 1));
  for (const h of due) modelResolve(h, "void", now());
  const voided: bigint[] = [];
  for (;;) {
    const batch = await store.expireHolds(now(), 100);
    voided.push(...batch.map((h) => h.id));
    if (batch.length < 100) break;
  }
  expect(voided).toEqual(due.map((h) => h.id));
}

async function checkAccounts(ids: readonly bigint[]): Promise<void> {
  // One round trip: the touched accounts and the mint, then the totals of all accounts (id 0).
  const rows = await select<{ id: string; dp: string; cp: string; dpe: string; cpe: string }>(
    db,
    `SELECT id, debits_posted dp, credits_posted cp, debits_pending dpe, credits_pending cpe FROM accounts WHERE id IN (?)
     UNION ALL SELECT 0, SUM(debits_posted), SUM(credits_posted), SUM(debits_pending), SUM(credits_pending) FROM accounts`,
    [[...ids, mintAccountId]],
  );
  const stored = new Map(rows.map((r) => [BigInt(r.id), { dp: BigInt(r.dp), cp: BigInt(r.cp), dpe: BigInt(r.dpe), cpe: BigInt(r.cpe) }]));
  for (const id of [...ids, mintAccountId]) {
    const m = model.accounts.get(id) ?? { dp: 0n, cp: 0n, dpe: 0n, cpe: 0n };
    expect({ id, ...(stored.get(id) ?? { dp: 0n, cp: 0n, dpe: 0n, cpe: 0n }) }).toEqual({ id, ...m });
    if (id !== mintAccountId) expect(m.cp - m.dp - m.dpe).toBeGreaterThanOrEqual(0n);
  }
  // Conservation: every drop debited somewhere is credited somewhere, and the totals are the model's.
  const t = stored.get(0n)!;
  expect(t.dp).toBe(t.cp);
  expect(t.dpe).toBe(t.cpe);
  let total = 0n;
  for (const a of model.accounts.values()) total += a.dp;
  expect(t.dp).toBe(total);
}

  let steps = 0;
  for (let s = 0; s < sequences; s++) {
    const users = Array.from({ length: int(2, 3) }, () => nextUser++);
    const postIds: bigint[] = [];
    const done: GiveOp[] = [];
    const holds: Array<{ payer: bigint; id: bigint }> = [];
    if (random() < 0.15) blocked.add(`${users[0]}|${users[1]}`);
    // Each user first earns the welcome grant (most of the time), so giving has drops to move.
    const length = users.length + int(2, 4);
    for (let i = 0; i < length; i++) {
      const r = random();
      let op: string;
      if (i < users.length || r < 0.25) {
        op = "earn";
        const user = i < users.length ? users[i]! : pick(users);
        const code = i < users.length && random() < 0.9 ? Code.earnWelcome : pick(earnCodes);
        const key = code === Code.earnWelcome ? [user] : [String(int(1, 6))]; // small key space: repeats earn once
        const postId = code === Code.earnPost ? BigInt(s * 100 + int(1, 3)) : 0n;
        if (code === Code.earnPost && !posts.has(postId)) {
          posts.set(postId, user);
          postIds.push(postId);
        }
        const fullKey = code === Code.earnWelcome ? key : [user, ...key];
        const id = deriveTransferId("earn", code, ...fullKey);
        const rule =
          code === Code.earnWelcome
            ? rules.welcome
            : code === Code.earnSignIn
              ? rules.signIn
              : code === Code.earnPost
                ? rules.post
                : code === Code.earnLike
                  ? rules.like
                  : rules.comment;
        const { dailyCap: cap, amount } = rule;
        const want = modelCreate({ id, debitAccountId: mintAccountId, creditAccountId: user, amount, code, memo: "", postId, timeoutSeconds: 0 }, false, now(), { cap });
        const out = await earn(store, rules, { userId: user, code, key: fullKey, postId, at: now() });
        const got: Outcome = out.kind === "capped" ? { capped: true } : out.kind === "created" || out.kind === "exists" ? { ok: out.transfer.id, amount: out.transfer.amount } : { fail: out.kind };
        expect(got).toEqual(want);
      } else if (r < 0.55 || (r < 0.7 && done.length === 0) || (r >= 0.7 && r < 0.85 && holds.length === 0)) {
        const code = pick([Code.gift, Code.tip, Code.hold, Code.hold]);
        op = code === Code.gift ? "gift" : code === Code.tip ? "tip" : "hold";
        const payer = pick(users);
        const give: GiveOp = {
          payer,
          payee: random() < 0.05 ? 2_000_000_000n : pick(users),
          amount: BigInt(pick([1, 5, 20, 60, 120])),
          code,
          postId: postIds.length && random() < 0.9 ? pick(postIds) : BigInt(s * 100 + 99),
          requestId: `r${s}-${i}`,
          timeoutSeconds: pick([0, 30, 300, 3600]),
        };
        const want = modelGive(give);
        const got = await realGive(give);
        expect(got).toEqual(want);
        if ("ok" in got) done.push(give);
        if ("ok" in got && code === Code.hold) holds.push({ payer, id: got.ok });
      } else if (r < 0.7) {
        // A retry: the same key with the same body, or with another amount.
        const prev = pick(done);
        const same = random() < 0.6;
        op = same ? "retry" : "retry-changed";
        const again = same ? prev : { ...prev, amount: prev.amount + 1n };
        expect(await realGive(again)).toEqual(modelGive(again));
      } else if (r < 0.85) {
        const h = pick(holds);
        const action = random() < 0.5 ? "post" : "void";
        op = action;
        const payer = random() < 0.9 ? h.payer : pick(users);
        const want = modelHoldAction(payer, h.id, action);
        expect(await realHoldAction(payer, h.id, action)).toEqual(want);
      } else {
        op = "time";
        // Time passes: sometimes past a hold's timeout (and midnight, for the daily caps).
        clock += pick([5, 40, 400, 4000, 40_000]) * 1000;
        await expireBoth();
      }
      counts[op] = (counts[op] ?? 0) + 1;
      steps++;
      await checkAccounts(users);
    }
    // History: each user's entries, newest first, equal the model's.
    for (const u of users) {
      const rows = await store.entries(u, 1000);
      expect(rows.map((e) => e.transfer.id)).toEqual([...(model.history.get(u) ?? [])].reverse());
    }
  }
  const audit = await store.audit();
  expect(audit.drifted).toEqual([]);
  expect(audit.negative).toEqual([]);
  expect(audit.debitsPosted).toBe(audit.creditsPosted);
  expect(audit.issued).toBe(model.accounts.get(mintAccountId)!.dp);
  return { steps, transfers: model.transfers.size };
}

const dbs: Array<{ db: Pool; name: string }> = [];

beforeAll(async () => {
  await Promise.all(
    Array.from({ length: lanes }, async (_, i) => {
      const name = `${database}${i}`;
      const db = await openDatabase({ url, database: name, migrationsDir: join(import.meta.dir, "migrations"), log: createLogger("wallet-test", "warn") });
      dbs.push({ db, name });
    }),
  );
}, 120_000);
afterAll(async () => {
  for (const { db, name } of dbs) {
    await db.end();
    await dropDatabase(url, name);
  }
});

test(`${sequences} random sequences of earns, gifts, tips, holds, posts, voids, timeouts and retries match the model`, async () => {
  const started = Date.now();
  const counts: Record<string, number> = {};
  const none = async () => {};
  const results = await Promise.all(
    dbs.map(({ db }, i) => {
      const ids = createIdGenerator(1 + i);
      const store = new MysqlLedgerStore(db, () => ids.next(), { posted: none, holdCreated: none, holdVoided: none });
      return lane(db, store, seed + i, Math.ceil(sequences / lanes), counts);
    }),
  );
  const steps = results.reduce((s, r) => s + r.steps, 0);
  const transfers = results.reduce((s, r) => s + r.transfers, 0);
  expect(steps).toBeGreaterThanOrEqual(sequences * 4);
  console.log(
    `ledger property: seed ${seed}, ${lanes} lanes x ${Math.ceil(sequences / lanes)} sequences, ${steps} steps (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ")}), ` +
      `${transfers} transfers, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}, 600_000);
