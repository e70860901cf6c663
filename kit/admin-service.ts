/**
 * AdminService (proto/oasis/admin/v1/admin_service.proto), served by every service
 * process that has the bus: kill switches (kit/kill-switches.ts), dead letters (stream
 * OASIS_DLQ, kit/consumer.ts) and the lag of the consumers this process runs. Only the
 * operator identity may call it (kit/auth.ts `isOperator`): the kit keeps no list of
 * admin users, so a forwarded user, admin or not, is refused with NOT_ADMIN.
 *
 * Dead letters are replayed by the process that runs their consumer, through the
 * consumer's own handler (`RunningConsumer.replay`), and removed from the DLQ stream
 * once handled: republishing on the original subject would deliver the event again to
 * every other consumer of that subject too.
 */
import { toJsonString, type DescMessage } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { fromBinary } from "@bufbuild/protobuf";
import {
  AdminService,
  KillSwitchKind,
  type ConsumerStatus,
  type DeadLetter,
  type KillSwitch,
} from "#gen/oasis/admin/v1/admin_service_pb.ts";
import { ErrorReason, ErrorReasonSchema } from "#gen/oasis/admin/v1/errors_pb.ts";
import type { StoredMsg } from "@nats-io/jetstream";
import { isOperator } from "./auth.ts";
import { dlqStreamConfig, eventSubject, type Bus } from "./bus.ts";
import { currentCaller } from "./call-context.ts";
import { dlqHeaders, type RunningConsumer } from "./consumer.ts";
import { domainErrors } from "./errors.ts";
import { switchKey, type KillSwitchKind as Kind, type KillSwitchRecord, type KillSwitches } from "./kill-switches.ts";
import type { Logger } from "./logger.ts";

const errors = domainErrors<ErrorReason>("admin", ErrorReasonSchema);

export interface AdminDeps {
  readonly bus: Bus;
  readonly killSwitches: KillSwitches;
  /** The consumers this process runs now (they start after the server is built). */
  readonly consumers: () => readonly RunningConsumer[];
  /** Event types this process knows, to render dead letters' payloads as JSON. */
  readonly eventTypes?: readonly DescMessage[];
  readonly log: Logger;
}

const kinds: Record<Exclude<KillSwitchKind, KillSwitchKind.UNSPECIFIED>, Kind> = {
  [KillSwitchKind.READ_ONLY]: "read_only",
  [KillSwitchKind.DISABLE_UPLOADS]: "disable_uploads",
  [KillSwitchKind.DISABLE_METHOD]: "disable_method",
  [KillSwitchKind.FANOUT_PULL_ON_READ]: "fanout_pull",
  [KillSwitchKind.SHED]: "shed",
  [KillSwitchKind.FREEZE_USER]: "freeze_user",
};
const kindOf = (k: Kind): KillSwitchKind => Number(Object.entries(kinds).find(([, v]) => v === k)![0]);

function switchMessage(r: KillSwitchRecord): Omit<KillSwitch, "$typeName"> & { $typeName?: never } {
  return { kind: kindOf(r.kind), target: r.target, share: r.on ? r.share : 0, actor: r.actor, reason: r.reason, updateTime: timestampFromMs(r.atMs) } as never;
}

/** PERMISSION_DENIED (NOT_ADMIN): AdminService answers the operator identity only. */
export function notAdmin(): ConnectError {
  return errors.permissionDenied(ErrorReason.NOT_ADMIN, "only the operator identity may call AdminService");
}

/** Checked by the kit's access interceptor already (before validation); again here. */
function requireOperator(): void {
  if (!isOperator(currentCaller())) throw notAdmin();
}

/** Page size from a request: 0 means `fallback`. */
const sizeOf = (n: number, fallback: number) => (n > 0 ? n : fallback);

/** The admin service of one process. */
export function adminService(deps: AdminDeps): ServiceImpl<typeof AdminService> {
  const ns = deps.bus.namespace;
  const dlqStream = dlqStreamConfig(ns).name;
  const dlqPrefix = `${ns ? `${ns}.` : ""}oasis.dlq.`;

  /** A DLQ message as a DeadLetter; the original subject and event id from its headers (older letters: from the subject and message id). */
  function letterOf(m: StoredMsg) {
    const consumer = m.header?.get(dlqHeaders.consumer) || m.subject.slice(dlqPrefix.length).split(".")[0]!;
    const originalSubject = m.header?.get(dlqHeaders.subject) || m.subject.slice(dlqPrefix.length + consumer.length + 1);
    const eventId = m.header?.get(dlqHeaders.eventId) || (m.header?.get("Nats-Msg-Id") ?? "").split(":").pop() || "";
    return {
      sequence: BigInt(m.seq),
      consumer,
      originalSubject,
      eventId,
      reason: m.header?.get(dlqHeaders.reason) ?? "",
      deadLetterTime: timestampFromMs(m.time.getTime()),
      sizeBytes: BigInt(m.data.length),
    } satisfies Omit<DeadLetter, "$typeName">;
  }

  async function getLetter(seq: number): Promise<StoredMsg> {
    const m = await deps.bus.jsm.streams.getMessage(dlqStream, { seq }).catch(() => null);
    if (!m) throw errors.notFound(ErrorReason.DEAD_LETTER_NOT_FOUND, `no dead letter at sequence ${seq}`, { sequence: seq });
    return m;
  }


  return {
    async listKillSwitches() {
      requireOperator();
      const on = [...deps.killSwitches.records()].filter(([, r]) => r.on).sort(([a], [b]) => a.localeCompare(b));
      return { switches: on.map(([, r]) => switchMessage(r)) };
    },

    async setKillSwitch(req) {
      requireOperator();
      const kind = kinds[req.kind as keyof typeof kinds];
      const key = switchKey(kind, req.target);
      if ("error" in key) throw errors.invalid(ErrorReason.BAD_SWITCH_TARGET, [{ field: "target", description: key.error }]);
      if (kind === "shed" && req.on && !(req.share > 0)) {
        throw errors.invalid(ErrorReason.BAD_SWITCH_TARGET, [{ field: "share", description: "a shed switch needs a share in (0, 1]" }]);
      }
      const caller = currentCaller();
      const record: KillSwitchRecord = {
        kind,
        target: req.target,
        on: req.on,
        share: req.on ? (kind === "shed" ? req.share : 1) : 0,
        actor: `${caller.issuer ?? "?"}:${req.actor}`,
        reason: req.reason,
        atMs: Date.now(),
      };
      const revision = await deps.killSwitches.put(record);
      deps.log.warn({ switch: key.key, on: record.on, share: record.share, actor: record.actor, reason: record.reason, revision }, "kill switch set");
      return { switch: switchMessage(record), revision: BigInt(revision) };
    },

    async listKillSwitchHistory(req) {
      requireOperator();
      const entries = await deps.killSwitches.history(sizeOf(req.pageSize, 100));
      return { changes: entries.map((e) => ({ switch: switchMessage(e.record), on: e.record.on, revision: BigInt(e.revision) })) };
    },

    async listDeadLetters(req) {
      requireOperator();
      const size = sizeOf(req.pageSize, 100);
      let seq = req.pageToken ? Number(req.pageToken) : 1;
      if (!Number.isSafeInteger(seq) || seq < 1) throw errors.invalid(ErrorReason.UNSPECIFIED, [{ field: "page_token", description: "not a token this method returned" }]);
      const filter = `${dlqPrefix}${req.consumer ? `${req.consumer}.>` : ">"}`;
      const out: Array<ReturnType<typeof letterOf>> = [];
      let more = false;
      for (;;) {
        const m = await deps.bus.jsm.streams.getMessage(dlqStream, { seq, next_by_subj: filter } as never).catch(() => null);
        if (!m) break;
        if (out.length === size) {
          more = true;
          break;
        }
        out.push(letterOf(m));
        seq = m.seq + 1;
      }
      const info = await deps.bus.jsm.streams.info(dlqStream);
      return { deadLetters: out, nextPageToken: more ? String(seq) : "", total: BigInt(info.state.messages) };
    },

    async getDeadLetter(req) {
      requireOperator();
      const m = await getLetter(Number(req.sequence));
      const letter = letterOf(m);
      const headers: Record<string, string> = {};
      for (const [k, v] of m.header ?? []) headers[k] = v.join(",");
      const type = deps.eventTypes?.find((t) => eventSubject(ns, t) === letter.originalSubject);
      let payloadJson = "";
      if (type) {
        try {
          payloadJson = toJsonString(type, fromBinary(type, m.data));
        } catch {
          payloadJson = "";
        }
      }
      return { deadLetter: letter, headers, payload: m.data, payloadJson };
    },

    async replayDeadLetters(req) {
      requireOperator();
      const results = [];
      for (const s of req.sequences) {
        const m = await getLetter(Number(s));
        const letter = letterOf(m);
        const consumer = deps.consumers().find((c) => c.name === letter.consumer);
        if (!consumer) {
          throw errors.failedPrecondition(ErrorReason.CONSUMER_NOT_HERE, `this process does not run consumer ${letter.consumer}; call the service that does`, {
            consumer: letter.consumer,
          });
        }
        m.header?.set(dlqHeaders.eventId, letter.eventId);
        try {
          await consumer.replay({ subject: letter.originalSubject, data: m.data, headers: m.header });
        } catch (err) {
          results.push({ sequence: s, replayed: false, error: (err as Error).message ?? String(err) });
          continue;
        }
        await deps.bus.jsm.streams.deleteMessage(dlqStream, Number(s), false).catch((err) => {
          throw new ConnectError(`replayed, but removing dead letter ${s} failed: ${(err as Error).message}`, Code.Internal);
        });
        deps.log.warn({ sequence: String(s), consumer: letter.consumer, event_id: letter.eventId }, "dead letter replayed and removed");
        results.push({ sequence: s, replayed: true, error: "" });
      }
      return { results };
    },

    async listConsumers() {
      requireOperator();
      return { consumers: await Promise.all(deps.consumers().map((c) => consumerStatus(deps.bus, c))) };
    },
  };
}

/** Dead letters of `consumer` now in the DLQ stream. */
export async function deadLetterCount(bus: Bus, consumer: string): Promise<number> {
  const prefix = `${bus.namespace ? `${bus.namespace}.` : ""}oasis.dlq.`;
  const info = await bus.jsm.streams.info(dlqStreamConfig(bus.namespace).name, { subjects_filter: `${prefix}${consumer}.>` });
  return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
}

/**
 * One consumer's lag from JetStream: undelivered messages (num_pending), delivered but
 * unacknowledged, redelivered, and the age of the oldest undelivered message (the
 * stream message after the consumer's delivered sequence that matches its filter).
 */
export async function consumerStatus(bus: Bus, c: RunningConsumer): Promise<Omit<ConsumerStatus, "$typeName">> {
  const info = await bus.jsm.consumers.info(c.stream, c.durable);
  let lagSeconds = 0;
  if (info.num_pending > 0) {
    const next = await bus.jsm.streams
      .getMessage(c.stream, { seq: info.delivered.stream_seq + 1, next_by_subj: info.config.filter_subject ?? ">" } as never)
      .catch(() => null);
    if (next) lagSeconds = Math.max(0, (Date.now() - next.time.getTime()) / 1000);
  }
  return {
    name: c.name,
    stream: c.stream,
    pending: BigInt(info.num_pending),
    ackPending: BigInt(info.num_ack_pending),
    redelivered: BigInt(info.num_redelivered),
    lagSeconds,
    deadLetters: BigInt(await deadLetterCount(bus, c.name)),
  };
}
