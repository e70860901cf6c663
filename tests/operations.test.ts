/**
 * Operating the mesh through `bun run admin` (the CLI as a real subprocess, signing as
 * the operator identity) against real processes: identity, graph, post, feed, media and
 * two edges.
 *
 * Kill switches: each one is set while the DeathStarBench social mix (60% home feed,
 * 30% user feed, 10% new posts; bench/social.ts) runs against both edges, and its
 * effect must show at both edges (and in the services, for calls that skip the edge)
 * within 1 s of the CLI's answer, polled, never slept for; then it is cleared and the
 * effect must go. The audit trail must name every change with who and why.
 *
 * Dead letters: a poison event on the post stream is dead-lettered by feed's real
 * consumer; the CLI lists and inspects it, and its replay fails and keeps it. A real
 * post_created event whose fan-out is missing from a follower's home timeline (taken out
 * of Redis, as if the handler never ran) is dead-lettered as the consumer would, and
 * its replay through the CLI puts the post back and removes the letter.
 *
 * Also: consumer lag, rate-limit overrides, bucket policies and a search reindex
 * through the CLI.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import Redis from "ioredis";
import { connectBus, streamName, type Bus } from "#kit/bus.ts";
import { publishDeadLetter } from "#kit/consumer.ts";
import { createLogger } from "#kit/logger.ts";
import { freePort } from "#kit/testing/ports.ts";
import { startSocialTestbed, type SocialTestbed } from "../testbeds/social.ts";
import { imagePath } from "../demo/data.ts";

const root = join(import.meta.dir, "..");
const searchDir = mkdtempSync(join(tmpdir(), "oasis-ops-search-"));
let bed: SocialTestbed;
let bus: Bus;
let redis: Redis;
/** Both edges' base URLs. */
const edges: string[] = [];
/** reed_1 (author), reed_2..reed_4 (followers). */
let ids: bigint[] = [];
const tokens: string[] = [];
/** One uploaded photo per user: a post needs an image. */
const photos: bigint[] = [];

/** Runs `bun run admin <args> --json`; its exit code and parsed stdout. */
async function admin(...args: string[]): Promise<{ code: number; json: any; stderr: string }> {
  const proc = Bun.spawn([process.execPath, join(root, "scripts", "admin.ts"), ...args, "--json"], { env: bed.mesh.env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  let json: any;
  try {
    json = JSON.parse(out);
  } catch {
    json = undefined;
  }
  return { code, json, stderr: err };
}

/** Runs `bun run admin <args>` for its text output (printed by the tests that show it). */
async function adminText(...args: string[]): Promise<string> {
  const proc = Bun.spawn([process.execPath, join(root, "scripts", "admin.ts"), ...args], { env: bed.mesh.env, stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return `$ bun run admin ${args.join(" ")}\n${out}${err}`;
}

/** `admin` that must succeed. */
async function ok(...args: string[]): Promise<any> {
  const r = await admin(...args);
  if (r.code !== 0) throw new Error(`admin ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.json;
}

async function call(edge: string, method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${edge}${path}`, {
    method,
    headers: { ...(body !== undefined && !(body instanceof Uint8Array) ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : body instanceof Uint8Array ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
}

const createPost = (edge: string, who: number, caption: string) => call(edge, "POST", "/v1/posts", tokens[who], { caption, mediaIds: [String(photos[who])] });
const homeFeed = (edge: string, who: number) => call(edge, "GET", "/v1/feeds/home?page_size=10", tokens[who]);
const png = readFileSync(imagePath("coffee.png"));

/**
 * Probes every edge until `probe` holds at each; returns the ms from the call to the
 * start of the earliest probe that saw it at the slowest edge. Fails when that is later
 * than `deadlineMs` (the switches' promise).
 */
async function within(deadlineMs: number, probe: (edge: string) => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  const perEdge = await Promise.all(
    edges.map(async (edge) => {
      // Probes start every 25 ms (at most 8 in flight), not one after another: a slow
      // answer saying "not yet" must not delay the probe that would see the change.
      let seen: number | undefined;
      const inFlight = new Set<Promise<void>>();
      while (seen === undefined) {
        const started = performance.now() - t0;
        if (started > deadlineMs + 5_000) break;
        const p = probe(edge).then((ok) => {
          if (ok && (seen === undefined || started < seen)) seen = started;
        });
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
        if (inFlight.size >= 8) await Promise.race(inFlight);
        else await Promise.race([Promise.race(inFlight), Bun.sleep(25)]);
      }
      await Promise.all(inFlight);
      return { edge, seen };
    }),
  );
  const missing = perEdge.filter((e) => e.seen === undefined).map((e) => e.edge);
  if (missing.length) throw new Error(`not applied at ${missing.join(", ")}`);
  const worst = Math.max(...perEdge.map((e) => e.seen!));
  if (worst > deadlineMs) throw new Error(`applied only after ${worst.toFixed(0)} ms`);
  return worst;
}

/** The DSB mix as background load on both edges: per phase, statuses by operation. */
const load = { phase: "warm-up", running: true, counts: new Map<string, Map<string, number>>() };
function record(op: string, status: number): void {
  const key = `${load.phase}|${op}`;
  const m = load.counts.get(key) ?? new Map<string, number>();
  m.set(String(status), (m.get(String(status)) ?? 0) + 1);
  load.counts.set(key, m);
}
const statuses = (phase: string, op: string) => Object.fromEntries(load.counts.get(`${phase}|${op}`) ?? []);
let loadDone: Promise<unknown> | undefined;

function startLoad(workersPerEdge: number): void {
  let n = 0;
  loadDone = Promise.all(
    edges.flatMap((edge) =>
      Array.from({ length: workersPerEdge }, async (_, w) => {
        while (load.running) {
          const who = 1 + ((w + n++) % 3);
          const r = Math.random();
          try {
            if (r < 0.6) record("home", (await homeFeed(edge, who)).status);
            else if (r < 0.9) record("user", (await call(edge, "GET", `/v1/users/${ids[0]}/feed?page_size=10`, tokens[who])).status);
            else record("post", (await createPost(edge, who, `load ${n}`)).status);
          } catch {
            record("error", 0);
          }
        }
      }),
    ),
  );
}

/** Sets a switch through the CLI, then waits for its effect at every edge; returns ms. */
async function flip(phase: string, args: string[], effect: (edge: string) => Promise<boolean>): Promise<number> {
  load.phase = phase;
  const set = await ok("switches", ...args, "--reason", `test: ${phase}`, "--actor", "ops-test");
  expect(set.switch.actor).toBe("operator:ops-test");
  const ms = await within(1_000, effect);
  console.log(`${phase}: applied at both edges in ${ms.toFixed(0)} ms after the CLI answered`);
  return ms;
}

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "post", "feed", "media", "search"], { env: { OASIS_SEARCH_DATA_DIR: searchDir, OASIS_MEILI_URL: "" } });
  edges.push(bed.mesh.url("edge"));
  const [port, metricsPort] = [await freePort(), await freePort()];
  await bed.mesh.supervisor.start({
    name: "edge2",
    entry: join(root, "edge", "main.ts"),
    port,
    env: { ...bed.mesh.env, OASIS_EDGE_PORT: String(port), OASIS_EDGE_METRICS_PORT: String(metricsPort) },
  });
  edges.push(`http://127.0.0.1:${port}`);
  bus = await connectBus({ url: bed.mesh.env.OASIS_NATS_URL ?? "nats://127.0.0.1:4222", namespace: bed.mesh.namespace, name: "ops-test", log: createLogger("ops-test", "silent") });
  redis = new Redis(bed.mesh.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379");
  ids = await bed.users([1, 2, 3, 4]);
  for (const f of ids.slice(1)) await bed.graph(f).follow({ userId: ids[0]! });
  for (const n of [1, 2, 3, 4]) tokens[n - 1] = await bed.token(n);
  for (const [i, id] of ids.entries()) photos[i] = await bed.photo(id, i);
  // The load comes from one IP: lift the edge's per-IP limits for the run, through the CLI.
  const limits = await ok("rate-limits", "set", "--class", "read", "--per-ip", "100000000/60", "--per-user", "100000000/60", "--class", "write", "--per-ip", "100000000/60", "--per-user", "100000000/60", "--class", "upload", "--per-ip", "100000000/60", "--per-user", "100000000/60", "--ttl", "900");
  expect(typeof limits.expireTime).toBe("string");
  // Edges reload overrides every 5 s: wait until both report the raised limit.
  await within(15_000, async (edge) => (await homeFeed(edge, 0)).headers.get("ratelimit-limit") === "100000000");
}, 240_000);

afterAll(async () => {
  load.running = false;
  await loadDone;
  redis?.disconnect();
  await bus?.close();
  await bed?.stop();
  rmSync(searchDir, { recursive: true, force: true });
});

test("every kill switch flipped under the DSB mix shows at both edges within 1 s, and clears", async () => {
  startLoad(3);
  const warm = Date.now();
  while (!statuses("warm-up", "home")["200"]) {
    if (Date.now() - warm > 30_000) throw new Error("the load never got a home feed");
    await Bun.sleep(10);
  }
  const author = 0;
  const frozen = 1;

  // Read-only: writes refused at the edges and in the services; reads go on.
  await flip("read-only", ["set", "read-only"], async (e) => (await createPost(e, author, "ro")).status === 503);
  expect((await homeFeed(edges[0]!, 2)).status).toBe(200);
  const direct = await bed.post(ids[author]!).createPost({ caption: "around the edge", mediaIds: [photos[author]!] }).catch((err) => ConnectError.from(err));
  expect((direct as ConnectError).code).toBe(Code.Unavailable);
  await ok("switches", "clear", "read-only", "--reason", "test: done");
  await within(1_000, async (e) => (await createPost(e, author, "rw")).status === 200);

  // Uploads off: an image upload is refused, a text post is not.
  await flip("disable-uploads", ["set", "disable-uploads"], async (e) => (await call(e, "POST", "/v1/media?bucket=post-images", tokens[author], png, { "content-type": "image/png" })).status === 503);
  expect((await createPost(edges[1]!, author, "text only")).status).toBe(200);
  await ok("switches", "clear", "disable-uploads", "--reason", "test: done");
  await within(1_000, async (e) => (await call(e, "POST", "/v1/media?bucket=post-images", tokens[author], png, { "content-type": "image/png" })).status === 200);

  // One method off, by REST and Connect path and straight at the service; others go on.
  const method = "oasis.post.v1.PostService/CreatePost";
  await flip("disable-method", ["set", "disable-method", method], async (e) => {
    const [rest, connect] = await Promise.all([createPost(e, author, "m"), call(e, "POST", `/${method}`, tokens[author], { caption: "m", mediaIds: [String(photos[author])] })]);
    return rest.status === 503 && connect.status === 503;
  });
  expect(((await bed.post(ids[author]!).createPost({ caption: "m", mediaIds: [photos[author]!] }).catch((err) => ConnectError.from(err))) as ConnectError).code).toBe(Code.Unavailable);
  expect((await homeFeed(edges[0]!, 2)).status).toBe(200);
  await ok("switches", "clear", "disable-method", method, "--reason", "test: done");
  await within(1_000, async (e) => (await createPost(e, author, "m back")).status === 200);

  // Shed all reads, then half of them; writes are not shed.
  await flip("shed-all", ["set", "shed", "read", "--share", "1"], async (e) => {
    const r = await homeFeed(e, 2);
    return r.status === 503 && r.headers.get("retry-after") === "1";
  });
  expect((await createPost(edges[0]!, author, "shed reads only")).status).toBe(200);
  await ok("switches", "set", "shed", "read", "--share", "0.5", "--reason", "test: half");
  const half = await within(1_000, async (e) => {
    const s = (await Promise.all(Array.from({ length: 40 }, () => homeFeed(e, 2)))).map((r) => r.status);
    return s.includes(200) && s.includes(503);
  });
  console.log(`shed 0.5: both outcomes at both edges after ${half.toFixed(0)} ms`);
  await ok("switches", "clear", "shed", "read", "--reason", "test: done");
  await within(1_000, async (e) => (await Promise.all(Array.from({ length: 20 }, () => homeFeed(e, 2)))).every((r) => r.status === 200));

  // One user frozen: their writes refused (403) at the edges and the service; others write.
  await flip("freeze-user", ["set", "freeze-user", String(ids[frozen])], async (e) => (await createPost(e, frozen, "frozen?")).status === 403);
  expect((await createPost(edges[1]!, author, "not frozen")).status).toBe(200);
  expect((await homeFeed(edges[1]!, frozen)).status).toBe(200);
  expect(((await bed.post(ids[frozen]!).createPost({ caption: "x", mediaIds: [photos[frozen]!] }).catch((err) => ConnectError.from(err))) as ConnectError).code).toBe(Code.PermissionDenied);
  await ok("switches", "clear", "freeze-user", String(ids[frozen]), "--reason", "test: done");
  await within(1_000, async (e) => (await createPost(e, frozen, "thawed")).status === 200);

  // Fan-out degraded to pull-on-read: the author's post is not pushed but is still read
  // (merged at read time); after clearing, the next post ends the merge and both are in
  // the follower's stored home timeline.
  const celebs = `${bed.mesh.namespace}:oasis:feed:celebs`;
  const follower = 2;
  expect((await homeFeed(edges[0]!, follower)).status).toBe(200); // active reader
  load.phase = "fanout-pull";
  await ok("switches", "set", "fanout-pull", "--reason", "test: fanout-pull", "--actor", "ops-test");
  const t0 = performance.now();
  const pulled = ((await (await createPost(edges[0]!, author, "pulled on read")).json()) as any).post.postId as string;
  const home = `${bed.mesh.namespace}:oasis:feed:ht:${ids[follower]}`;
  while (!(await redis.sismember(celebs, String(ids[author])))) {
    if (performance.now() - t0 > 5_000) throw new Error("feed did not mark the author pull-on-read");
    await Bun.sleep(10);
  }
  expect(await redis.zscore(home, pulled)).toBeNull();
  const seen = async () => (((await (await homeFeed(edges[1]!, follower)).json()) as any).items ?? []).map((i: any) => i.post.postId as string);
  expect(await seen()).toContain(pulled);
  await ok("switches", "clear", "fanout-pull", "--reason", "test: done");
  let pushed = "";
  const t1 = performance.now();
  // Posts made after the clear are fanned out again; the first one also pushes the merged one.
  while ((await redis.sismember(celebs, String(ids[author]))) || !pushed || (await redis.zscore(home, pushed)) === null) {
    if (performance.now() - t1 > 5_000) throw new Error("fan-out did not resume");
    if (!pushed) pushed = ((await (await createPost(edges[0]!, author, "pushed again")).json()) as any).post.postId;
    await Bun.sleep(10);
  }
  expect(await redis.zscore(home, pulled)).not.toBeNull();

  load.running = false;
  await loadDone;
  // Under load, the mix saw the switches too: writes refused during read-only, reads during shed.
  console.log("load statuses by phase:", JSON.stringify(Object.fromEntries([...load.counts].map(([k, m]) => [k, Object.fromEntries(m)]))));
  expect(statuses("read-only", "post")["503"] ?? 0).toBeGreaterThan(0);
  expect(statuses("shed-all", "home")["503"] ?? 0).toBeGreaterThan(0);

  // Audit: every change with who, when and why, newest first; nothing left on.
  const history = (await ok("switches", "history", "--limit", "100")).changes as any[];
  const kinds = new Set(history.map((c) => c.switch.kind));
  for (const k of ["KILL_SWITCH_KIND_READ_ONLY", "KILL_SWITCH_KIND_DISABLE_UPLOADS", "KILL_SWITCH_KIND_DISABLE_METHOD", "KILL_SWITCH_KIND_SHED", "KILL_SWITCH_KIND_FREEZE_USER", "KILL_SWITCH_KIND_FANOUT_PULL_ON_READ"]) expect(kinds).toContain(k);
  expect(history.every((c) => c.switch.actor?.startsWith("operator:") && c.switch.reason?.startsWith("test:") && c.switch.updateTime)).toBe(true);
  expect(history.filter((c) => c.on).length).toBe(history.filter((c) => !c.on).length + 1); // shed set twice, cleared once
  expect((await ok("switches", "list")).switches ?? []).toEqual([]);
  console.log(await adminText("switches", "history", "--limit", "6"));
}, 240_000);

test("dead letters: listed, inspected, a poison one stays, a missing fan-out is replayed and removed", async () => {
  // The kill-switch test stops its load when it passes; when it failed midway the load is
  // still creating posts, and the stream's last post_created would not be this test's.
  load.running = false;
  await loadDone;
  const ns = bed.mesh.namespace;
  const postSubject = `${ns}.oasis.post.v1.post_created`;
  // A poison message on the post stream: feed's real consumer dead-letters it.
  await bus.js.publish(postSubject, new Uint8Array([0xff, 0x01, 0x02]), { msgID: `poison-${Date.now()}` });
  let letters: any[] = [];
  const t0 = Date.now();
  while (!letters.some((l) => l.reason.startsWith("undecodable"))) {
    if (Date.now() - t0 > 15_000) throw new Error("the poison message was not dead-lettered");
    letters = (await ok("dlq", "list", "--consumer", "feed-fanout")).deadLetters ?? [];
  }
  const poison = letters.find((l) => l.reason.startsWith("undecodable"))!;
  expect(poison.originalSubject).toBe(postSubject);
  const inspected = await ok("dlq", "inspect", poison.sequence);
  expect(inspected.headers["Oasis-Dlq-Consumer"]).toBe("feed-fanout");
  const failed = await admin("dlq", "replay", poison.sequence);
  expect(failed.code).toBe(1);
  expect(failed.json.results[0].replayed).toBe(false);
  expect((await ok("dlq", "inspect", poison.sequence)).deadLetter.sequence).toBe(poison.sequence);

  // A real post_created whose fan-out to a follower is missing: dead-letter it as the
  // consumer does after its last attempt, and replay it through the CLI.
  const follower = 3;
  expect((await homeFeed(edges[0]!, follower)).status).toBe(200); // an active reader
  const postId = ((await (await createPost(edges[0]!, 0, "lost in fan-out")).json()) as any).post.postId as string;
  const home = `${ns}:oasis:feed:ht:${ids[follower]}`;
  const t1 = Date.now();
  while ((await redis.zscore(home, postId)) === null) {
    if (Date.now() - t1 > 10_000) throw new Error("fan-out never reached the follower");
    await Bun.sleep(10);
  }
  const event = await bus.jsm.streams.getMessage(streamName(ns, "post"), { last_by_subj: postSubject });
  expect(event).not.toBeNull();
  await redis.zrem(home, postId);
  await publishDeadLetter(bus, "feed-fanout", { subject: event!.subject, data: event!.data, headers: event!.header, seq: event!.seq }, "test: graph was unavailable for 8 attempts");
  const listed = (await ok("dlq", "list", "--consumer", "feed-fanout")).deadLetters as any[];
  const lost = listed.find((l) => l.eventId === event!.header.get("Nats-Msg-Id"))!;
  expect(lost.reason).toBe("test: graph was unavailable for 8 attempts");
  expect(JSON.parse((await ok("dlq", "inspect", lost.sequence)).payloadJson).post.postId).toBe(postId);
  const consumersBefore = await ok("consumers", "--service", "feed");
  const fanout = consumersBefore[0].consumers.find((c: any) => c.name === "feed-fanout");
  expect(Number(fanout.deadLetters)).toBe(2);
  console.log(await adminText("dlq", "list", "--consumer", "feed-fanout"));
  console.log(await adminText("consumers", "--service", "feed"));
  const replay = await ok("dlq", "replay", lost.sequence);
  expect(replay.results).toEqual([{ sequence: lost.sequence, consumer: "feed-fanout", service: "feed", replayed: true, error: "" }]);
  expect(await redis.zscore(home, postId)).not.toBeNull();
  console.log(await adminText("dlq", "list", "--consumer", "feed-fanout"));
  const after = ((await ok("dlq", "list", "--consumer", "feed-fanout")).deadLetters ?? []) as any[];
  expect(after.map((l) => l.sequence)).toEqual([poison.sequence]);
  expect((await admin("dlq", "inspect", lost.sequence)).code).toBe(1);

  // The same facts in Prometheus: feed's consumer gauges and counters, post's outbox backlog.
  const scrape = async (service: string) => (await fetch(`${bed.mesh.metricsUrl(service)}/metrics`)).text();
  const value = (text: string, series: string) => {
    const line = text.split("\n").find((l) => l.startsWith(series));
    return line === undefined ? undefined : Number(line.split(" ").at(-1));
  };
  const feedMetrics = await scrape("feed");
  expect(value(feedMetrics, 'events_dead_letters{consumer="feed-fanout"')).toBe(1);
  expect(value(feedMetrics, 'events_dead_lettered_total{consumer="feed-fanout"')).toBeGreaterThanOrEqual(1);
  expect(value(feedMetrics, 'events_consumer_pending_messages{consumer="feed-fanout"')).toBe(0);
  expect(value(feedMetrics, 'events_consumer_lag_seconds{consumer="feed-fanout"')).toBe(0);
  const postMetrics = await scrape("post");
  expect(value(postMetrics, "outbox_backlog_events")).toBeGreaterThanOrEqual(0);
  expect(value(postMetrics, "outbox_oldest_unsent_age_seconds")).toBeLessThan(60);
}, 120_000);

test("bucket policies, a signing-key rotation and usage errors through the CLI", async () => {
  const rotated = await ok("signing-key", "rotate");
  expect(rotated.kid.length).toBeGreaterThan(0);
  expect(rotated.publishedKids).toContain(rotated.kid);
  const before = (await ok("buckets", "list")).policies as any[];
  expect(before.some((p) => p.bucket === "post-images")).toBe(true);
  const updated = await ok("buckets", "set", "post-images", "--watermark", "oasis test");
  expect(updated.policy.watermarkText).toBe("oasis test");
  expect(updated.policy.maxBytes).toBe(before.find((p) => p.bucket === "post-images").maxBytes);
  expect((await admin("switches", "set", "shed", "read", "--reason", "no share")).code).toBe(2);
  expect((await admin("switches", "set", "read-only")).code).toBe(2); // no --reason
  const bad = await admin("switches", "set", "freeze-user", "alice", "--reason", "not an id");
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("BAD_SWITCH_TARGET");
});

test("a search reindex through the CLI rebuilds from the owners and reports what it indexed", async () => {
  expect((await admin("reindex", "status")).code).toBe(1); // none yet: NOT_FOUND
  expect((await createPost(edges[0]!, 0, "indexed by the rebuild")).status).toBe(200);
  const done = await ok("reindex", "start", "--wait");
  expect(done.reindex.running ?? false).toBe(false);
  expect(done.reindex.error ?? "").toBe("");
  expect(Number(done.reindex.users)).toBe(ids.length);
  expect(Number(done.reindex.posts)).toBeGreaterThanOrEqual(1);
  const hits = (await (await call(edges[0]!, "GET", "/v1/search/users?query=reed_1")).json()) as any;
  expect(hits.users.map((u: any) => u.profile.handle)).toContain("reed_1");
}, 120_000);
