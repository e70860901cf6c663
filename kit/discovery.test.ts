/**
 * DNS discovery of replicas (kit/discovery.ts): `dns:///host:port` targets parsed
 * strictly, resolved with the system resolver (localhost), and a replica set kept in
 * step as the name's addresses change: new replicas added, gone ones removed and their
 * clients released, kept ones keeping their state, lookup failures changing nothing.
 */
import { describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { addressUrl, discoveredReplicaSet, parseDnsTarget, ReplicaDiscovery, targetHttpUrl } from "./discovery.ts";

describe("targets", () => {
  test("dns:///host:port is a DNS target; plain URLs are not", () => {
    expect(parseDnsTarget("dns:///identity-headless:7001")).toEqual({ host: "identity-headless", port: 7001 });
    expect(parseDnsTarget("dns:identity.oasis.svc.cluster.local:7001")).toEqual({ host: "identity.oasis.svc.cluster.local", port: 7001 });
    expect(parseDnsTarget("http://identity:7001")).toBeUndefined();
    expect(() => parseDnsTarget("dns:///identity")).toThrow("use dns:///<host>:<port>");
    expect(() => parseDnsTarget("dns://8.8.8.8/identity:7001")).toThrow("authority is not supported");
    expect(targetHttpUrl("dns:///identity:7001")).toBe("http://identity:7001");
    expect(targetHttpUrl("http://127.0.0.1:7001")).toBe("http://127.0.0.1:7001");
  });

  test("addresses become URLs, IPv6 in brackets", () => {
    expect(addressUrl("10.0.3.7", 7001)).toBe("http://10.0.3.7:7001");
    expect(addressUrl("::1", 7001)).toBe("http://[::1]:7001");
  });
});

test("localhost resolves through the system resolver into loopback replicas", async () => {
  const changes: string[][] = [];
  const d = new ReplicaDiscovery(["dns:///localhost:7001"], (urls) => changes.push(urls));
  expect(d.dynamic).toBe(true);
  expect(d.urls()).toEqual([]);
  await d.start();
  d.stop();
  expect(d.urls()).toContain("http://127.0.0.1:7001");
  for (const u of d.urls()) expect(u).toMatch(/^http:\/\/(127\.0\.0\.1|\[::1\]):7001$/);
  expect(changes).toEqual([d.urls()]);
});

describe("a replica set kept current", () => {
  function world() {
    const records = new Map<string, string[] | Error>([["identity-headless", ["10.0.0.2", "10.0.0.1"]]]);
    const removed: string[] = [];
    const errors: string[] = [];
    const { set, discovery } = discoveredReplicaSet(["dns:///identity-headless:7001", "http://10.9.9.9:7001"], (url) => ({ url }), {
      lookup: async (host) => {
        const r = records.get(host);
        if (r instanceof Error) throw r;
        return r ?? [];
      },
      onRemove: (c) => void removed.push(c.url),
      onError: (target) => void errors.push(target),
      refreshMs: 60_000,
    });
    const urls = () => set.states().map((s) => s.url).sort();
    return { records, removed, errors, set, discovery, urls };
  }

  test("before the first resolution only static URLs are known; then every address is a replica", async () => {
    const w = world();
    expect(w.urls()).toEqual(["http://10.9.9.9:7001"]);
    await w.discovery.start();
    w.discovery.stop();
    expect(w.urls()).toEqual(["http://10.0.0.1:7001", "http://10.0.0.2:7001", "http://10.9.9.9:7001"]);
  });

  test("pods added and removed: replicas follow, removed clients are released, kept ones keep their state", async () => {
    const w = world();
    await w.discovery.start();
    w.discovery.stop();
    w.set.markDown("http://10.0.0.1:7001");
    w.records.set("identity-headless", ["10.0.0.1", "10.0.0.3"]);
    await w.discovery.refresh();
    expect(w.urls()).toEqual(["http://10.0.0.1:7001", "http://10.0.0.3:7001", "http://10.9.9.9:7001"]);
    expect(w.removed).toEqual(["http://10.0.0.2:7001"]);
    const states = new Map(w.set.states().map((s) => [s.url, s.ejected]));
    expect(states.get("http://10.0.0.1:7001")).toBe(true);
    expect(states.get("http://10.0.0.3:7001")).toBe(false);
    // Calls go to the replicas there are now.
    const served = new Set<string>();
    for (let i = 0; i < 6; i++) served.add(await w.set.run(true, undefined, async (c) => c.url));
    expect([...served].sort()).toEqual(["http://10.0.0.3:7001", "http://10.9.9.9:7001"]);
  });

  test("a failed or empty lookup keeps the last addresses", async () => {
    const w = world();
    await w.discovery.start();
    w.discovery.stop();
    const before = w.urls();
    w.records.set("identity-headless", new Error("SERVFAIL"));
    await w.discovery.refresh();
    expect(w.urls()).toEqual(before);
    expect(w.errors).toEqual(["dns:///identity-headless:7001"]);
    w.records.set("identity-headless", []);
    await w.discovery.refresh();
    expect(w.urls()).toEqual(before);
    expect(w.removed).toEqual([]);
  });

  test("re-resolved periodically", async () => {
    const records = new Map([["svc", ["10.0.0.1"]]]);
    const { set, discovery } = discoveredReplicaSet(["dns:///svc:7001"], (url) => ({ url }), {
      lookup: async (host) => records.get(host) ?? [],
      refreshMs: 50,
    });
    await discovery.start();
    records.set("svc", ["10.0.0.1", "10.0.0.5"]);
    for (let i = 0; i < 100 && set.states().length < 2; i++) await Bun.sleep(20);
    discovery.stop();
    expect(set.states().map((s) => s.url)).toEqual(["http://10.0.0.1:7001", "http://10.0.0.5:7001"]);
  });

  test("with no replica known yet a call fails `unavailable`", async () => {
    const { set } = discoveredReplicaSet(["dns:///svc:7001"], (url) => ({ url }), { lookup: async () => [] });
    const err = await set.run(true, undefined, async () => "never").catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.Unavailable);
  });
});
