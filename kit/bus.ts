/**
 * NATS JetStream, the mesh's event bus (NATS.js v3: @nats-io/transport-node and
 * @nats-io/jetstream).
 *
 * Naming (docs/architecture.md section 5): an event message `oasis.post.v1.PostCreated` travels on
 * subject `oasis.post.v1.post_created`, in stream `OASIS_POST` (subjects
 * `oasis.post.>`). Poison and exhausted messages are parked on `oasis.dlq.>` (stream
 * `OASIS_DLQ`). A namespace (tests) prefixes subjects with `<ns>.` and stream names with
 * `<NS>_`.
 *
 * Streams are created or updated at start and then read back: NATS 2.9 silently drops
 * settings it does not know (per-message TTL, scheduling, multi-subject consumer
 * filters), so every setting we rely on is compared with what the server kept, and a
 * mismatch stops the process instead of failing later in subtle ways.
 */
import { connect, headers as natsHeaders, nanos, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import {
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import type { DescMessage } from "@bufbuild/protobuf";
import type { Logger } from "./logger.ts";

export { natsHeaders, type MsgHdrs };

export interface Bus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly namespace: string;
  close(): Promise<void>;
}

/** Domain of an event type: `oasis.post.v1.PostCreated` -> `post`. */
export function eventDomain(schema: DescMessage): string {
  const parts = schema.typeName.split(".");
  if (parts.length !== 4 || parts[0] !== "oasis") throw new Error(`not an oasis event type: ${schema.typeName}`);
  return parts[1]!;
}

function prefixed(namespace: string, subject: string): string {
  return namespace ? `${namespace}.${subject}` : subject;
}

/** Subject of an event type: `oasis.post.v1.PostCreated` -> `oasis.post.v1.post_created`. */
export function eventSubject(namespace: string, schema: DescMessage): string {
  const [, domain, version, name] = schema.typeName.split(".") as [string, string, string, string];
  const snake = name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
  return prefixed(namespace, `oasis.${domain}.${version}.${snake}`);
}

/** Stream name of a domain: `OASIS_POST`, or `T1A2_OASIS_POST` in namespace `t1a2`. */
export function streamName(namespace: string, domain: string): string {
  const base = `OASIS_${domain.toUpperCase()}`;
  return namespace ? `${namespace.toUpperCase()}_${base}` : base;
}

/** Subject of a dead letter from `consumer` for an original subject. */
export function dlqSubject(namespace: string, consumer: string, originalSubject: string): string {
  return prefixed(namespace, `oasis.dlq.${consumer}.${originalSubject}`);
}

const dayNanos = nanos(24 * 60 * 60 * 1000);

/**
 * The stream of one domain's events. Limits retention, 7 days: long enough to rebuild
 * a consumer after a week-end outage, short enough to bound disk. Duplicate window
 * 2 minutes: the outbox relay re-publishes unacknowledged rows within seconds, and
 * consumers deduplicate by event id beyond that anyway.
 */
export function domainStreamConfig(namespace: string, domain: string): Partial<StreamConfig> & { name: string } {
  return {
    name: streamName(namespace, domain),
    subjects: [prefixed(namespace, `oasis.${domain}.>`)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: 7 * dayNanos,
    duplicate_window: nanos(120_000),
    num_replicas: 1,
  };
}

/** Dead letters: kept 30 days for someone to look at and replay. */
export function dlqStreamConfig(namespace: string): Partial<StreamConfig> & { name: string } {
  return {
    name: streamName(namespace, "dlq"),
    subjects: [prefixed(namespace, "oasis.dlq.>")],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: 30 * dayNanos,
    duplicate_window: nanos(120_000),
    num_replicas: 1,
  };
}

/**
 * Creates the stream or updates it to `want`, then verifies that the server kept every
 * setting in `want`. Throws naming the setting the server did not keep.
 */
export async function ensureStream(jsm: JetStreamManager, want: Partial<StreamConfig> & { name: string }, log?: Logger): Promise<void> {
  let info;
  try {
    info = await jsm.streams.info(want.name);
  } catch {
    info = undefined;
  }
  if (!info) {
    try {
      info = await jsm.streams.add(want);
      log?.info({ stream: want.name }, "stream created");
    } catch (err) {
      // Another process created it between our info and add.
      info = await jsm.streams.info(want.name).catch(() => {
        throw err;
      });
    }
  } else {
    const differs = Object.entries(want).some(([k, v]) => JSON.stringify((info!.config as any)[k]) !== JSON.stringify(v));
    if (differs) info = await jsm.streams.update(want.name, want);
  }
  for (const [k, v] of Object.entries(want)) {
    const got = (info.config as any)[k];
    if (JSON.stringify(got) !== JSON.stringify(v)) {
      throw new Error(`stream ${want.name}: server kept ${k}=${JSON.stringify(got)}, wanted ${JSON.stringify(v)} (NATS too old?)`);
    }
  }
}

export interface BusOptions {
  readonly url: string;
  readonly namespace: string;
  /** Connection name shown by `nats server report connections`. */
  readonly name: string;
  readonly log: Logger;
}

/**
 * Server and credentials of a NATS URL: `nats://user:password@host:4222` gives the user
 * and password to NATS's own auth (deploy/README.md) instead of sending them in the URL.
 */
export function natsServer(url: string): { servers: string; user?: string; pass?: string } {
  const u = new URL(url);
  if (!u.username) return { servers: url };
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  u.username = "";
  u.password = "";
  return { servers: u.toString().replace(/\/$/, ""), user, pass };
}

/** Connects, and ensures the dead-letter stream exists. Reconnects forever on its own. */
export async function connectBus(opts: BusOptions): Promise<Bus> {
  const nc = await connect({
    ...natsServer(opts.url),
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 20_000,
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect") opts.log.warn({ nats: s.type }, "nats connection status");
    }
  })().catch(() => {});
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await ensureStream(jsm, dlqStreamConfig(opts.namespace), opts.log);
  return {
    nc,
    js,
    jsm,
    namespace: opts.namespace,
    async close() {
      await nc.drain().catch(() => nc.close());
    },
  };
}

/** Deletes every stream of a namespace (tests). */
export async function deleteNamespaceStreams(jsm: JetStreamManager, namespace: string): Promise<void> {
  if (!namespace) throw new Error("refusing to delete streams without a namespace");
  const prefix = `${namespace.toUpperCase()}_`;
  // KV buckets of the namespace (kit/kill-switches.ts) are streams named KV_<ns>_<bucket>.
  const kvPrefix = `KV_${namespace}_`;
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(prefix) || name.startsWith(kvPrefix)) await jsm.streams.delete(name).catch(() => {});
  }
}
