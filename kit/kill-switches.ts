/**
 * Kill switches (the red button): run-time switches every edge and service applies
 * within a second, without a restart. They live in a NATS JetStream KV bucket
 * (`oasis_switches`, `<ns>_oasis_switches` in a test namespace), one key per switch;
 * every process watches the bucket, so a change reaches all of them as one pushed
 * message (measured in kit/kill-switches.test.ts: well under a second).
 *
 * Keys and what they switch (the kinds of proto/oasis/admin/v1/admin_service.proto):
 * - `read_only`: writes and uploads refused; reads and sign-in keep working.
 * - `disable_uploads`: uploads refused.
 * - `method.<pkg.Service/Method>` or `method.<pkg.Service>`: one method, or every
 *   method of a service, refused whatever the route.
 * - `fanout_pull`: feed stops fanning out on write; readers merge posts at read time.
 * - `shed.<route class>`: a share (0-1] of the class's edge requests refused.
 * - `freeze.<user id>`: one user's writes refused.
 *
 * Every value is the switch's whole record, `{kind, target, on, share, actor, reason,
 * at}`: clearing a switch writes `on: false` instead of deleting the key, so the
 * bucket's history (64 revisions per key) is the audit trail of who changed what,
 * when and why. Only the admin RPC SetKillSwitch writes it (kit/admin-service.ts).
 *
 * A process that cannot reach NATS at start does not start (its bus is required
 * anyway); one that loses NATS later keeps the switches it last saw.
 */
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import type { Bus } from "./bus.ts";
import type { Logger } from "./logger.ts";

/** The kinds of switch, as named in the KV keys. */
export type KillSwitchKind = "read_only" | "disable_uploads" | "disable_method" | "fanout_pull" | "shed" | "freeze_user";

/** One switch's record, as stored. */
export interface KillSwitchRecord {
  readonly kind: KillSwitchKind;
  /** Method or service name, route class, or user id; "" for kinds without a target. */
  readonly target: string;
  readonly on: boolean;
  /** Share of requests shed (shed), 0-1; 1 for the others when on. */
  readonly share: number;
  /** `<mesh identity>:<operator name>`, e.g. "operator:alice". */
  readonly actor: string;
  readonly reason: string;
  /** When it was written, ms since epoch. */
  readonly atMs: number;
}

/** What the switches say now, as the processes apply it. */
export interface KillSwitchState {
  readonly readOnly: boolean;
  readonly disableUploads: boolean;
  readonly fanoutPullOnRead: boolean;
  /** Refused methods (`pkg.Service/Method`) and services (`pkg.Service`). */
  readonly disabledMethods: ReadonlySet<string>;
  /** Share of requests refused, by edge route class. */
  readonly shed: ReadonlyMap<string, number>;
  /** Users whose writes are refused, decimal ids. */
  readonly frozenUsers: ReadonlySet<string>;
}

export const noSwitches: KillSwitchState = Object.freeze({
  readOnly: false,
  disableUploads: false,
  fanoutPullOnRead: false,
  disabledMethods: new Set<string>(),
  shed: new Map<string, number>(),
  frozenUsers: new Set<string>(),
});

/** Revisions of each switch the bucket keeps: the audit trail's depth. */
export const switchHistory = 64;

/** The bucket's name in `namespace`. */
export function killSwitchBucket(namespace: string): string {
  return namespace ? `${namespace}_oasis_switches` : "oasis_switches";
}

/** Route classes a share can be shed from (edge/rate-limit.ts). */
export const sheddableClasses = ["auth", "read", "write", "upload", "stream"] as const;

const methodPattern = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.[A-Z][A-Za-z0-9]*(\/[A-Z][A-Za-z0-9]*)?$/;

/**
 * The KV key of a switch, or an error message for a target its kind does not accept:
 * a method or service name for disable_method, a route class for shed, a user id for
 * freeze_user, nothing for the others.
 */
export function switchKey(kind: KillSwitchKind, target: string): { key: string } | { error: string } {
  switch (kind) {
    case "read_only":
    case "disable_uploads":
    case "fanout_pull":
      return target ? { error: `${kind} takes no target` } : { key: kind };
    case "disable_method":
      return methodPattern.test(target) ? { key: `method.${target}` } : { error: "target must be a method (pkg.Service/Method) or a service (pkg.Service)" };
    case "shed":
      return (sheddableClasses as readonly string[]).includes(target) ? { key: `shed.${target}` } : { error: `target must be a route class: ${sheddableClasses.join(", ")}` };
    case "freeze_user":
      return /^[1-9][0-9]{0,18}$/.test(target) ? { key: `freeze.${target}` } : { error: "target must be a user id" };
  }
}

/** Builds the state from the records that are on; `noSwitches` itself when none is. */
export function stateOf(records: Iterable<KillSwitchRecord>): KillSwitchState {
  const disabledMethods = new Set<string>();
  const shed = new Map<string, number>();
  const frozenUsers = new Set<string>();
  let readOnly = false;
  let disableUploads = false;
  let fanoutPullOnRead = false;
  for (const r of records) {
    if (!r.on) continue;
    if (r.kind === "read_only") readOnly = true;
    else if (r.kind === "disable_uploads") disableUploads = true;
    else if (r.kind === "fanout_pull") fanoutPullOnRead = true;
    else if (r.kind === "disable_method") disabledMethods.add(r.target);
    else if (r.kind === "shed") shed.set(r.target, Math.min(1, Math.max(0, r.share)));
    else if (r.kind === "freeze_user") frozenUsers.add(r.target);
  }
  if (!readOnly && !disableUploads && !fanoutPullOnRead && !disabledMethods.size && !shed.size && !frozenUsers.size) return noSwitches;
  return Object.freeze({ readOnly, disableUploads, fanoutPullOnRead, disabledMethods, shed, frozenUsers });
}

/** True when `method` (`pkg.Service/Method`) or its service is disabled. */
export function methodDisabled(state: KillSwitchState, method: string): boolean {
  if (state.disabledMethods.size === 0) return false;
  return state.disabledMethods.has(method) || state.disabledMethods.has(method.slice(0, method.indexOf("/")));
}

function parse(entry: KvEntry): KillSwitchRecord | undefined {
  if (entry.operation !== "PUT") return undefined;
  try {
    return entry.json<KillSwitchRecord>();
  } catch {
    return undefined;
  }
}

/** The switches of one process: watched from the bucket, readable without I/O. */
export interface KillSwitches {
  /** The state now (updated as changes arrive). */
  state(): KillSwitchState;
  /** The records now, by key (on and off). */
  records(): ReadonlyMap<string, KillSwitchRecord>;
  /** Writes one switch's record; resolves to the bucket revision. */
  put(record: KillSwitchRecord): Promise<number>;
  /** Every recorded change, newest first, at most `limit`. */
  history(limit: number): Promise<Array<{ record: KillSwitchRecord; revision: number }>>;
  /** Calls `fn` after each change is applied. */
  onChange(fn: (state: KillSwitchState) => void): void;
  close(): Promise<void>;
}

/**
 * Opens (creating if needed) the bucket and starts watching it. Resolves once the
 * current values are loaded, so a process never serves a request before it knows the
 * switches.
 */
export async function openKillSwitches(bus: Bus, log: Logger): Promise<KillSwitches> {
  const kv: KV = await new Kvm(bus.js).create(killSwitchBucket(bus.namespace), { history: switchHistory });
  const records = new Map<string, KillSwitchRecord>();
  let state = noSwitches;
  const listeners: Array<(s: KillSwitchState) => void> = [];
  // The stream's last sequence first, then the current values, then the watch from the
  // next sequence: a change made meanwhile arrives through the watch (applied twice at
  // worst, which is harmless), never lost.
  const lastSeq = Number((await kv.status()).streamInfo.state.last_seq);
  for await (const key of await kv.keys()) {
    const e = await kv.get(key);
    const r = e ? parse(e) : undefined;
    if (r) records.set(key, r);
  }
  state = stateOf(records.values());
  const watch = await kv.watch({ key: ">", resumeFromRevision: lastSeq + 1 });
  const loop = (async () => {
    for await (const e of watch) {
      const r = parse(e);
      if (r) records.set(e.key, r);
      else records.delete(e.key);
      state = stateOf(records.values());
      log.warn({ key: e.key, on: r?.on, actor: r?.actor, reason: r?.reason, revision: e.revision }, "kill switch changed");
      for (const fn of listeners) fn(state);
    }
  })();
  return {
    state: () => state,
    records: () => records,
    async put(record) {
      const k = switchKey(record.kind, record.target);
      if ("error" in k) throw new Error(k.error);
      return kv.put(k.key, JSON.stringify(record));
    },
    async history(limit) {
      const out: Array<{ record: KillSwitchRecord; revision: number }> = [];
      const it = await kv.history({ key: ">" });
      for await (const e of it) {
        const r = parse(e);
        if (r) out.push({ record: r, revision: e.revision });
      }
      out.sort((a, b) => b.revision - a.revision);
      return out.slice(0, limit);
    },
    onChange(fn) {
      listeners.push(fn);
    },
    async close() {
      watch.stop();
      await loop.catch(() => {});
    },
  };
}
