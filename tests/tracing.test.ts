/**
 * One request's span tree, from the edge to the fan-out consumer, out of real processes:
 * identity, graph, post, feed, media and the edge export their spans by OTLP/HTTP
 * (kit/tracing.ts) to a collector this test runs, which keeps them in memory. A post
 * created through the edge with a known trace id must yield: the edge's request span
 * (child of the caller's span), post's CreatePost server span under it, the event's
 * producer span under that, feed's fan-out consumer span under the producer (across
 * NATS headers), and the fan-out's call to graph (client and server) under the
 * consumer, each from the process that did the work. Also the stores' spans (kit/mysql.ts,
 * kit/redis.ts): CreatePost's MySQL transaction (one batch: the suspension lock, the
 * writes conditioned on it and COMMIT; a create without a request id takes one round trip
 * too, OASIS_POST_ONE_TRIP_WITHOUT_ID, design note 60) under post's server span, and the
 * fan-out's Redis pipeline (or MULTI) under feed's consumer span, each with db.system and
 * its statement count.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import type { Server } from "bun";
import { startSocialTestbed, type SocialTestbed } from "../testbeds/social.ts";

interface CollectedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  service: string;
  /** String and integer attributes. */
  attrs: Record<string, string | number>;
}

const spans: CollectedSpan[] = [];
let collector: Server<undefined>;
let bed: SocialTestbed;

/** OTLP/HTTP JSON (opentelemetry-proto's JSON mapping: ids as hex strings). */
function collect(body: any): void {
  for (const rs of body.resourceSpans ?? []) {
    const service = rs.resource?.attributes?.find((a: any) => a.key === "service.name")?.value?.stringValue ?? "?";
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        const attrs = Object.fromEntries((s.attributes ?? []).map((a: any) => [a.key, a.value?.stringValue ?? Number(a.value?.intValue)]));
        spans.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? "", name: s.name, kind: s.kind, service, attrs });
      }
    }
  }
}

beforeAll(async () => {
  collector = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      if (new URL(req.url).pathname !== "/v1/traces") return new Response("not found", { status: 404 });
      collect(await req.json());
      return Response.json({});
    },
  });
  bed = await startSocialTestbed(["identity", "graph", "post", "feed", "media"], {
    env: { OASIS_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}`, OASIS_OTLP_DELAY_MS: "200" },
  });
}, 240_000);

afterAll(async () => {
  await bed?.stop();
  collector?.stop(true);
});

test("a post's spans form one tree from the edge through post and NATS to feed's fan-out and its graph call", async () => {
  const [author, follower] = await bed.users([1, 2]);
  await bed.graph(follower!).follow({ userId: author! });
  const [authorToken, followerToken] = [await bed.token(1), await bed.token(2)];
  // The follower reads their feed: an active reader, so the fan-out pushes to them.
  expect((await fetch(`${bed.mesh.url("edge")}/v1/feeds/home`, { headers: { authorization: `Bearer ${followerToken}` } })).status).toBe(200);
  const photo = await bed.photo(author!, 0);

  const traceId = randomBytes(16).toString("hex");
  const callerSpan = randomBytes(8).toString("hex");
  const res = await fetch(`${bed.mesh.url("edge")}/v1/posts`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${authorToken}`, traceparent: `00-${traceId}-${callerSpan}-01` },
    body: JSON.stringify({ caption: "traced from the edge to the fan-out", mediaIds: [String(photo)] }),
  });
  expect(res.status).toBe(200);

  const mine = () => spans.filter((s) => s.traceId === traceId);
  const wanted = ["POST /v1/posts", "oasis.post.v1.PostService/CreatePost", "feed-fanout process", "oasis.graph.v1.GraphService/ListFollowerIds", "mysql BATCH"];
  const t0 = Date.now();
  const fanoutRedis = () => mine().some((s) => s.service === "feed" && s.attrs["db.system"] === "redis");
  while (!wanted.every((n) => mine().some((s) => s.name === n)) || mine().filter((s) => s.name === "oasis.graph.v1.GraphService/ListFollowerIds").length < 2 || !fanoutRedis()) {
    if (Date.now() - t0 > 20_000) break;
    await Bun.sleep(50);
  }
  const tree = mine();
  const byId = new Map(tree.map((s) => [s.spanId, s]));
  const children = (id: string) => tree.filter((s) => s.parentSpanId === id);
  const print = (s: CollectedSpan, depth: number): string[] => [`${"  ".repeat(depth)}${s.name} [${s.service}]${s.attrs["db.statement_count"] !== undefined ? ` (${s.attrs["db.statement_count"]} statements)` : ""}`, ...children(s.spanId).flatMap((c) => print(c, depth + 1))];
  const root = tree.find((s) => s.parentSpanId === callerSpan);
  console.log(`span tree of trace ${traceId}:\n${root ? print(root, 0).join("\n") : "(no root)"}`);

  expect(root?.name).toBe("POST /v1/posts");
  expect(root?.service).toBe("edge");
  // Every span of the trace hangs from the edge's.
  for (const s of tree) {
    let cur: CollectedSpan | undefined = s;
    const path: string[] = [];
    while (cur && cur !== root) {
      path.push(cur.name);
      cur = byId.get(cur.parentSpanId);
    }
    expect({ span: s.name, reachesEdge: cur === root }).toEqual({ span: s.name, reachesEdge: true });
  }
  const one = (name: string, service: string) => {
    const found = tree.filter((s) => s.name === name && s.service === service);
    expect({ name, service, count: found.length }).toEqual({ name, service, count: 1 });
    return found[0]!;
  };
  const createPost = one("oasis.post.v1.PostService/CreatePost", "post");
  expect(createPost.parentSpanId).toBe(root!.spanId);
  const producer = tree.find((s) => s.name.endsWith("oasis.post.v1.post_created create") && s.service === "post")!;
  expect(producer).toBeDefined();
  const parentOfProducer = byId.get(producer.parentSpanId)!;
  expect(parentOfProducer.spanId).toBe(createPost.spanId);
  const fanout = one("feed-fanout process", "feed");
  expect(fanout.parentSpanId).toBe(producer.spanId);
  const graphClient = tree.find((s) => s.name === "oasis.graph.v1.GraphService/ListFollowerIds" && s.service === "feed")!;
  const graphServer = tree.find((s) => s.name === "oasis.graph.v1.GraphService/ListFollowerIds" && s.service === "graph")!;
  expect(graphClient.parentSpanId).toBe(fanout.spanId);
  expect(graphServer.parentSpanId).toBe(graphClient.spanId);

  // The stores' spans: post's transaction under CreatePost, feed's Redis batch under the fan-out.
  const txBatches = tree.filter((s) => s.name === "mysql BATCH" && s.service === "post" && s.parentSpanId === createPost.spanId);
  expect(txBatches).toHaveLength(1);
  for (const b of txBatches) {
    expect(b.attrs["db.system"]).toBe("mysql");
    expect(b.attrs["db.operation"]).toBe("BATCH");
    expect(b.attrs["db.statement_count"]).toBeGreaterThan(0);
  }
  const batches = tree.filter((s) => s.service === "feed" && s.attrs["db.system"] === "redis" && s.parentSpanId === fanout.spanId);
  expect(batches.length).toBeGreaterThan(0);
  for (const b of batches) {
    expect(["redis PIPELINE", "redis MULTI"]).toContain(b.name);
    expect(b.attrs["db.statement_count"]).toBeGreaterThan(0);
  }
}, 120_000);
