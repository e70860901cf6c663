/**
 * `dns:///` upstreams end to end: an edge and a mesh client (kit/client.ts) given
 * `dns:///localhost:<port>` resolve it into replicas (the loopback address) and call a
 * real upstream there; the edge's replica gauge lists the resolved address, not the name.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createClient } from "@connectrpc/connect";
import { createMeshTransport } from "#kit/client.ts";
import { testIdentity } from "#kit/testing/clients.ts";
import { startEdgeTestbed, type EdgeTestbed } from "./testdata/edge-testbed.ts";

let bed: EdgeTestbed;

beforeAll(async () => {
  bed = await startEdgeTestbed({}, (port) => `dns:///localhost:${port}`);
});
afterAll(() => bed?.stop());

test("the edge resolves dns:///localhost:<port> into a replica and calls it", async () => {
  const res = await fetch(`${bed.edge}${bed.waitPath}`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"tag":"dns-edge"}' });
  expect(res.status).toBe(200);
  expect(bed.calls.some((c) => c.tag === "dns-edge")).toBe(true);
  const metrics = await (await fetch(`${bed.edgeMetrics}/metrics`)).text();
  const replicas = metrics.split("\n").filter((l) => l.startsWith('edge_upstream_replica_ejected{upstream="edgetest"'));
  expect(replicas).toHaveLength(1);
  expect(replicas[0]).toMatch(new RegExp(`^edge_upstream_replica_ejected\\{upstream="edgetest",url="http://127\\.0\\.0\\.1:${bed.upstreamPort}"[^}]*\\} 0$`));
  expect(replicas.some((l) => l.includes("dns:"))).toBe(false);
  expect((await fetch(`${bed.edge}/readyz`)).status).toBe(200);
});

test("a mesh client resolves it the same way", async () => {
  const transport = createMeshTransport([`dns:///localhost:${bed.upstreamPort}`], { meshSecret: testIdentity("graph", bed.env) });
  const client = createClient(bed.service, transport) as unknown as { wait(req: { tag: string }): Promise<unknown> };
  await client.wait({ tag: "dns-client" });
  expect(bed.calls.some((c) => c.tag === "dns-client")).toBe(true);
  expect(transport.replicas().map((r) => r.url)).toContain(`http://127.0.0.1:${bed.upstreamPort}`);
});
