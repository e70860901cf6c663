/**
 * Replica discovery by DNS. An upstream URL `dns:///<host>:<port>` (gRPC's name syntax,
 * https://github.com/grpc/grpc/blob/master/doc/naming.md) stands for every address
 * <host> resolves to, one replica each (`http://<address>:<port>`), re-resolved every few
 * seconds so replicas come and go with the pods. In Kubernetes <host> is a headless
 * Service (clusterIP: None), whose name resolves to its ready pods: a ClusterIP Service
 * would put one virtual IP in front of them, and since each replica gets one long-lived
 * HTTP/2 connection, per-replica balancing and ejection would see a single replica.
 *
 * Plain `http://` URLs pass through unchanged, so local runs and tests keep their fixed
 * lists. Resolution uses the system resolver (getaddrinfo: /etc/hosts, then DNS), as
 * every other client on the pod does. A failed or empty lookup keeps the last addresses
 * it returned: a DNS hiccup must not empty a replica set that still works.
 */
import { lookup } from "node:dns/promises";
import { ReplicaSet, type ReplicaSetOptions } from "./replicas.ts";

/** A parsed `dns:///host:port` target. */
export interface DnsTarget {
  readonly host: string;
  readonly port: number;
}

/** Resolves a host name to its addresses. */
export type Lookup = (host: string) => Promise<string[]>;

/** The system resolver, every address of both families. */
export const systemLookup: Lookup = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

/** Default re-resolution period, ms: pods come and go within seconds of DNS changing. */
export const defaultDnsRefreshMs = 5_000;

/** The DNS target of `url`, or undefined for a plain URL. Throws on a malformed `dns:` URL. */
export function parseDnsTarget(url: string): DnsTarget | undefined {
  if (!url.startsWith("dns:")) return undefined;
  const m = /^dns:(?:\/\/([^/]*)\/)?([A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(url);
  if (!m) throw new Error(`bad upstream "${url}": use dns:///<host>:<port>`);
  if (m[1]) throw new Error(`bad upstream "${url}": a DNS server authority is not supported; use dns:///<host>:<port>`);
  return { host: m[2]!, port: Number(m[3]) };
}

/** `http://<address>:<port>`, with IPv6 addresses in brackets. */
export function addressUrl(address: string, port: number): string {
  return `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
}

/** The `http://host:port` a DNS target names as a whole (one HTTP request to any replica). */
export function targetHttpUrl(url: string): string {
  const t = parseDnsTarget(url);
  return t ? `http://${t.host}:${t.port}` : url;
}

export interface DiscoveryOptions {
  /** Re-resolution period, ms. Default 5 s. */
  readonly refreshMs?: number;
  readonly lookup?: Lookup;
  /** Called when a lookup fails (the previous addresses are kept). */
  readonly onError?: (target: string, err: unknown) => void;
}

/**
 * Keeps a replica list current for a set of upstream targets: static URLs as given,
 * DNS targets as their resolved addresses. `onChange` gets the whole list (sorted, no
 * duplicates) each time it changes.
 */
export class ReplicaDiscovery {
  private readonly dns: Array<{ url: string; target: DnsTarget; last: string[] }>;
  private readonly fixed: string[];
  private current: string[];
  private timer: ReturnType<typeof setInterval> | undefined;
  private first: Promise<void> | undefined;
  private readonly lookup: Lookup;

  constructor(
    targets: readonly string[],
    private readonly onChange: (urls: string[]) => void,
    private readonly opts: DiscoveryOptions = {},
  ) {
    this.fixed = targets.filter((t) => !parseDnsTarget(t));
    this.dns = targets.flatMap((url) => {
      const target = parseDnsTarget(url);
      return target ? [{ url, target, last: [] as string[] }] : [];
    });
    this.lookup = opts.lookup ?? systemLookup;
    this.current = this.union();
  }

  /** True when some target needs resolving (otherwise there is nothing to run). */
  get dynamic(): boolean {
    return this.dns.length > 0;
  }

  /** The replica URLs known now. */
  urls(): string[] {
    return this.current;
  }

  private union(): string[] {
    return [...new Set([...this.fixed, ...this.dns.flatMap((d) => d.last)])].sort();
  }

  /** Resolves every DNS target once; reports a changed list. */
  async refresh(): Promise<void> {
    await Promise.all(
      this.dns.map(async (d) => {
        try {
          const addresses = await this.lookup(d.target.host);
          if (addresses.length) d.last = [...new Set(addresses.map((a) => addressUrl(a, d.target.port)))].sort();
        } catch (err) {
          this.opts.onError?.(d.url, err);
        }
      }),
    );
    const next = this.union();
    if (next.join(",") === this.current.join(",")) return;
    this.current = next;
    this.onChange(next);
  }

  /**
   * Resolves now and then every `refreshMs`; resolves when the first round is done (calls
   * made before it would find no replica). Idempotent.
   */
  start(): Promise<void> {
    if (!this.dynamic) return Promise.resolve();
    if (!this.first) {
      this.first = this.refresh();
      this.timer = setInterval(() => void this.refresh(), this.opts.refreshMs ?? defaultDnsRefreshMs);
      this.timer.unref?.();
    }
    return this.first;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * A replica set over `targets` kept current by discovery: static URLs from the start,
 * DNS targets once `discovery.start()` has resolved them (and re-resolved after).
 */
export function discoveredReplicaSet<T>(
  targets: readonly string[],
  make: (url: string) => T,
  opts: ReplicaSetOptions<T> & DiscoveryOptions = {},
): { set: ReplicaSet<T>; discovery: ReplicaDiscovery } {
  let set: ReplicaSet<T> | undefined;
  const discovery = new ReplicaDiscovery(targets, (urls) => set?.setUrls(urls), opts);
  set = new ReplicaSet(discovery.urls(), make, opts);
  return { set, discovery };
}
