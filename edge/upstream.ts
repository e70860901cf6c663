/**
 * Calls from the edge into the mesh: one replica set per upstream service
 * (kit/replicas.ts: least pending, passive ejection, retries only for
 * side-effect-free or request_id calls; kit/discovery.ts: `dns:///` upstreams resolved
 * into one replica per address and re-resolved), each call over the edge's lean
 * Connect client, with the verified user forwarded as a signed caller assertion and the
 * request id and trace passed on.
 */
import { fromBinary, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import { cachedCaller, callerHeader, signCaller } from "#kit/auth.ts";
import { clientIpHeader } from "#kit/call-context.ts";
import { isRetryable } from "#kit/client.ts";
import { rateLimitLimitHeader, readRateLimit, type RateLimitState } from "#kit/rate-limit-headers.ts";
import { discoveredReplicaSet, type ReplicaDiscovery } from "#kit/discovery.ts";
import { remainingMs, type ReplicaSet, type ReplicaState } from "#kit/replicas.ts";
import { H2ConnectClient, neverSent } from "../kit/h2-client.ts";
import type { EdgeConfig } from "./config.ts";
import type { RoutedMethod } from "./registry.ts";

export interface CallMeta {
  readonly userId: bigint | null;
  /** The end user's IP, forwarded in `oasis-client-ip` (sign-in throttle). */
  readonly clientIp?: string;
  readonly requestId: string;
  readonly traceparent: string;
  /**
   * When the edge request's deadline passes, ms since the epoch. One deadline for the
   * whole call: every attempt (retries included) gets only the time left, and is told so
   * upstream in `connect-timeout-ms`, so a retried call never outlives what the client
   * asked for.
   */
  readonly deadlineMs: number;
  /** The incoming request's signal: a client that goes away cancels the upstream call. */
  readonly signal?: AbortSignal;
  /**
   * Hears a limit the upstream enforces itself and reported in RateLimit-* response
   * headers (kit/rate-limit-headers.ts), on success or refusal; called only when the
   * upstream sent them (the last attempt's count when a call was retried).
   */
  readonly onRateLimit?: (s: RateLimitState) => void;
}

export class Upstreams {
  private readonly sets = new Map<string, ReplicaSet<H2ConnectClient>>();
  private readonly discoveries: ReplicaDiscovery[] = [];

  /** `onDnsError` hears of failed lookups of `dns:///` upstreams (kit/discovery.ts). */
  constructor(
    private readonly config: EdgeConfig,
    onDnsError?: (target: string, err: unknown) => void,
  ) {
    for (const [name, targets] of Object.entries(config.upstreams)) {
      if (!targets.length) continue;
      const { set, discovery } = discoveredReplicaSet(targets, (u) => new H2ConnectClient(u), {
        onRemove: (c) => c.close(),
        refreshMs: config.dnsRefreshMs,
        onError: onDnsError,
      });
      this.sets.set(name, set);
      if (discovery.dynamic) this.discoveries.push(discovery);
    }
  }

  /** Resolves `dns:///` upstreams into replicas, then keeps re-resolving them. */
  async startDiscovery(): Promise<void> {
    await Promise.all(this.discoveries.map((d) => d.start()));
  }

  private set(name: string): ReplicaSet<H2ConnectClient> {
    const s = this.sets.get(name);
    if (!s) throw new Error(`no URL configured for upstream ${name}`);
    return s;
  }

  names(): string[] {
    return [...this.sets.keys()];
  }

  replicas(name: string): ReplicaState[] {
    return this.set(name).states();
  }

  close(): void {
    for (const d of this.discoveries) d.stop();
    for (const set of this.sets.values()) for (const c of set.clients()) c.close();
  }

  /** Calls a unary method of the upstream that serves it; resolves to the decoded answer. */
  async unary(routed: RoutedMethod, message: Message, meta: CallMeta): Promise<Message> {
    return fromBinary(routed.method.output as DescMessage, await this.unaryBytes(routed, message, meta));
  }

  /** Calls a unary method of the upstream that serves it; resolves to the answer's bytes (binary Protobuf), not decoded. */
  async unaryBytes(routed: RoutedMethod, message: Message, meta: CallMeta): Promise<Uint8Array> {
    const body = toBinary(routed.method.input as DescMessage, message as never);
    const headers = {
      [callerHeader]: cachedCaller(this.config.mesh, { audience: routed.upstream, method: routed.path.slice(1) }, meta.userId),
      "x-request-id": meta.requestId,
      traceparent: meta.traceparent,
      ...(meta.clientIp ? { [clientIpHeader]: meta.clientIp } : {}),
    };
    const report = meta.onRateLimit;
    // One property lookup per answer; parsed only when the upstream reported a limit.
    const onHeaders = report
      ? (h: Record<string, string | string[] | undefined>) => {
          if (h[rateLimitLimitHeader] === undefined) return;
          const s = readRateLimit((name) => h[name]);
          if (s) report(s);
        }
      : undefined;
    return this.set(routed.upstream).run(isRetryable(routed.method, message), meta.signal, (client) =>
      client.unary(routed.path, body, headers, remainingMs(meta.deadlineMs), meta.signal, onHeaders),
      neverSent,
    );
  }

  /** A plain HTTP GET/HEAD on a replica of `name` (media bytes), retried on another replica if never sent. */
  async get(name: string, method: "GET" | "HEAD", path: string, headers: Record<string, string>, timeoutMs: number) {
    return this.set(name).run(true, undefined, (client) => client.request(method, path, headers, timeoutMs), neverSent);
  }

  /**
   * Raw unary call by path on every replica of `name` (health checks): a failure ejects
   * the replica, a success re-admits it. Returns the failures.
   */
  async probe(name: string, path: string, body: Uint8Array, timeoutMs: number): Promise<string[]> {
    const down: string[] = [];
    const set = this.set(name);
    await Promise.all(
      set.clients().map(async (client) => {
        try {
          // Health is public; the edge asserts an anonymous caller (it never speaks as a service).
          await client.unary(path, body, { [callerHeader]: signCaller(this.config.mesh, { audience: name, method: path.slice(1) }, null) }, timeoutMs);
          set.markUp(client.baseUrl);
        } catch {
          down.push(client.baseUrl);
          set.markDown(client.baseUrl);
        }
      }),
    );
    return down;
  }
}
