/**
 * End to end (issue 9): runs the main job (`bun demo/main.ts`, the same code as the first
 * README command) from scratch in a fresh namespace on free ports, waits for its summary
 * and the running mesh, then acts as the app through the edge's REST API only: signs in
 * as a demo user, reads the hydrated home feed and downloads its images, follows
 * someone, posts a new photo, sees the post in a follower's home feed, is liked and
 * commented on, and reads the notifications. Last, the loader runs a second time against
 * the same mesh and must change nothing (idempotent request ids and Idempotency-Keys).
 *
 * The whole Reed98 load takes about five minutes on the 2-core machine; the hooks wait
 * up to 20.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { mesh } from "../mesh.config.ts";
import { cleanupNamespace, testNamespace } from "../kit/testing/namespace.ts";
import { freePort } from "../kit/testing/ports.ts";
import { imagePath } from "../demo/data.ts";
import { demoGraph, demoPassword } from "../demo/users.ts";
import { DemoLoader, type LoadReport } from "../demo/loader.ts";
import { bulkImportLimits, setEdgeLimits } from "../edge/limits-admin.ts";

const root = join(import.meta.dir, "..");
// For working on this test: OASIS_E2E_EDGE_URL=<edge of a running `npm run demo`> skips
// starting the main job (and the checks of its output) and uses that mesh instead.
const reuseEdge = process.env.OASIS_E2E_EDGE_URL;
const namespace = reuseEdge ? (process.env.OASIS_NAMESPACE ?? "") : testNamespace();
const redisUrl = process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379";
let demo: Subprocess<"ignore", "pipe", "pipe">;
let edge = "";
let output = "";
const hookTimeoutMs = 20 * 60_000;

async function waitForLine(pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(output)) {
    if (demo.exitCode !== null) throw new Error(`demo exited (${demo.exitCode}) before ${pattern}:\n${output.slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} after ${timeoutMs} ms:\n${output.slice(-4000)}`);
    await Bun.sleep(250);
  }
}

function collect(stream: ReadableStream<Uint8Array>): void {
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  })();
}

interface Reply {
  status: number;
  json: any;
}

async function rest(method: string, path: string, body?: unknown, token?: string): Promise<Reply> {
  const res = await fetch(`${edge}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, json: await res.json().catch(() => null) };
}

async function ok(method: string, path: string, body?: unknown, token?: string): Promise<any> {
  const r = await rest(method, path, body, token);
  if (r.status !== 200) throw new Error(`${method} ${path} -> ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

async function signIn(handle: string): Promise<{ token: string; userId: string }> {
  const s = await ok("POST", "/v1/sessions", { login: handle, password: demoPassword });
  return { token: s.accessToken, userId: s.userId ?? (await ok("GET", `/v1/handles/${handle}`)).profile.userId };
}

function followedBy(n: { summary: string }, handle: string): boolean {
  return n.summary.startsWith(`${handle} `) && n.summary.endsWith(" followed you");
}

/** Polls `read` until `done` holds (fan-out and notifications are asynchronous). */
async function eventually<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > deadline) return v;
    await Bun.sleep(200);
  }
}

beforeAll(async () => {
  if (reuseEdge) {
    edge = reuseEdge;
    return;
  }
  const env: Record<string, string> = { ...(process.env as Record<string, string>), OASIS_NAMESPACE: namespace, OASIS_LOG_LEVEL: "warn" };
  for (const e of mesh) env[`OASIS_${e.name.toUpperCase()}_PORT`] = String(await freePort());
  const edgePort = await freePort();
  env.OASIS_EDGE_PORT = String(edgePort);
  edge = `http://127.0.0.1:${edgePort}`;
  demo = Bun.spawn([process.execPath, join(root, "demo", "main.ts")], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  collect(demo.stdout);
  collect(demo.stderr);
  await waitForLine(/The mesh keeps running/, hookTimeoutMs - 60_000);
  // The summary is the evidence of the main job: print it into the test log.
  console.log(output.slice(output.indexOf("=== Oasis demo loaded ===")).trim());
}, hookTimeoutMs);

afterAll(async () => {
  if (reuseEdge) return;
  if (demo && demo.exitCode === null) {
    demo.kill("SIGINT");
    await Promise.race([demo.exited, Bun.sleep(30_000)]);
    if (demo.exitCode === null) demo.kill("SIGKILL");
  }
  await cleanupNamespace(namespace);
  rmSync(join(root, ".data", "media", namespace), { recursive: true, force: true });
}, 120_000);

describe("main job, end to end through the edge", () => {
  const { users, edges } = demoGraph();
  const friendsOf = (n: number) => new Set(edges.flatMap(([a, b]) => (a === n ? [b] : b === n ? [a] : [])));
  // A public member with many friends, so their home feed has more than a page.
  const me = users.find((u) => !u.private && friendsOf(u.n).size >= 40)!;
  const myFriends = friendsOf(me.n);
  // Someone public I do not follow yet.
  const other = users.find((u) => u.n !== me.n && !myFriends.has(u.n) && !u.private)!;

  test.skipIf(!!reuseEdge)("the summary reports the whole Reed98 load and the URLs", () => {
    expect(output).toMatch(/users: 962 +follows: 37624 +posts: \d+/);
    for (const step of ["accounts", "sessions", "profiles", "follows", "approvals", "photos", "photo posts", "refer-tos", "likes", "comments"]) {
      expect(output).toMatch(new RegExp(`\\n  ${step} +\\d+ in +[\\d.]+ s \\(\\d+/s\\)`));
    }
    expect(output).toContain(`edge:    ${edge}`);
    expect(output).toContain(`docs:    ${edge}/docs`);
  });

  test("the edge serves its docs and metrics", async () => {
    expect((await fetch(`${edge}/docs`)).status).toBe(200);
    expect((await ok("GET", "/openapi.json")).openapi).toBe("3.1.0");
    const metrics = await (await fetch(`${edge}/metrics`)).text();
    expect(metrics.includes('edge_http_requests_total{route="/oasis.graph.v1.GraphService/Follow",method="POST",status="200"')).toBe(true);
  });

  let mine: { token: string; userId: string };
  test("a demo user signs in and reads a hydrated home feed whose images download", async () => {
    mine = await signIn(me.handle);
    const feed = await ok("GET", "/v1/feeds/home?page_size=30", undefined, mine.token);
    expect(feed.items.length).toBe(30);
    expect(feed.nextPageToken).toBeTruthy();
    const friendIds = new Set<string>();
    // Some friends are private: their profiles are visible to me because I follow them.
    // (With OASIS_E2E_EDGE_URL the mesh may remember an earlier run's follow of `other`.)
    for (const f of [...myFriends, other.n]) friendIds.add((await ok("GET", `/v1/handles/reed_${f}`, undefined, mine.token)).profile.userId);
    for (const item of feed.items) {
      // Only people I follow (all my friends, both ways) appear, each with profile and counts.
      expect(friendIds.has(item.post.authorId)).toBe(true);
      expect(item.author.handle).toMatch(/^reed_\d+$/);
      expect(item.counts).toBeDefined();
      expect(item.relationship.following).toBe(true);
    }
    const withPhoto = feed.items.filter((i: any) => i.post.media?.length);
    expect(withPhoto.length).toBeGreaterThan(0);
    for (const item of withPhoto.slice(0, 5)) {
      for (const name of ["thumb", "feed"]) {
        const v = item.post.media[0].variants[name];
        const img = await fetch(`${edge}${v.url}`);
        expect(img.status).toBe(200);
        expect(img.headers.get("content-type")).toBe(v.contentType);
        expect((await img.arrayBuffer()).byteLength).toBe(Number(v.sizeBytes));
      }
    }
    const refer = feed.items.find((i: any) => i.post.referPostId);
    if (refer) expect(refer.refer.available).toBe(true);
  });

  let stranger: { token: string; userId: string };
  test("follows someone new, who is notified", async () => {
    stranger = await signIn(other.handle);
    const res = await ok("POST", `/v1/users/${stranger.userId}:follow`, {}, mine.token);
    expect(res.relationship.following).toBe(true);
    const rel = await ok("GET", `/v1/users/${stranger.userId}/relationship`, undefined, mine.token);
    expect(rel.relationship.following).toBe(true);
    // Notifications are made by a consumer of graph events; right after the demo it is
    // still working through the load's 37,624 follows, so allow it minutes, and report.
    const t0 = performance.now();
    const inbox = await eventually(
      () => ok("GET", "/v1/notifications", undefined, stranger.token),
      (r: any) => r.notifications?.some((n: any) => followedBy(n, me.handle)),
      300_000,
    );
    console.log(`follow notification visible after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // Follows are grouped: the stranger's friends followed them during the load, so the
    // newest group reads "reed_<me> and N others followed you".
    expect(inbox.notifications.some((n: any) => followedBy(n, me.handle))).toBe(true);
  }, 360_000);

  let postId = "";
  let follower: { token: string; userId: string };
  test("posts a new photo, which reaches a follower's home feed", async () => {
    const bytes = readFileSync(imagePath("coffee.png"));
    const up = await fetch(`${edge}/v1/media?bucket=post-images`, {
      method: "POST",
      headers: { "content-type": "image/png", authorization: `Bearer ${mine.token}`, "idempotency-key": `e2e-${namespace}` },
      body: bytes,
    });
    expect(up.status).toBe(200);
    const media = (await up.json()).media;
    expect(Number(media.width)).toBeGreaterThan(0);
    const caption = `清晨一杯咖啡 #oasis_e2e with @reed_${[...myFriends][0]}`;
    const created = await ok("POST", "/v1/posts", { mediaIds: [media.id], caption, requestId: `e2e-post-${namespace}` }, mine.token);
    postId = created.post.postId;
    expect(created.post.hashtags).toContain("oasis_e2e");
    expect(created.post.media[0].id).toBe(media.id);

    const friend = users.find((u) => myFriends.has(u.n))!;
    follower = await signIn(friend.handle);
    const feed = await eventually(
      () => ok("GET", "/v1/feeds/home?page_size=5", undefined, follower.token),
      (f: any) => f.items?.[0]?.post.postId === postId,
    );
    expect(feed.items[0].post.postId).toBe(postId);
    expect(feed.items[0].post.caption).toBe(caption);
    expect(feed.items[0].author.handle).toBe(me.handle);
    const thumb = await fetch(`${edge}${feed.items[0].post.media[0].variants.thumb.url}`);
    expect(thumb.status).toBe(200);
  });

  test("the follower likes and comments; the author reads the notifications", async () => {
    expect((await ok("POST", `/v1/posts/${postId}:like`, {}, follower.token)).counts.likes).toBe("1");
    const comment = await ok("POST", `/v1/posts/${postId}/comments`, { text: "好香的咖啡", requestId: `e2e-comment-${namespace}` }, follower.token);
    expect(comment.comment.text).toBe("好香的咖啡");
    const counts = await ok("GET", `/v1/post-counts:batchGet?post_ids=${postId}`);
    expect(counts.counts[0]).toMatchObject({ likes: "1", comments: "1" });

    const followerHandle = (await ok("GET", `/v1/users/${follower.userId}`)).profile.handle;
    const inbox = await eventually(
      () => ok("GET", "/v1/notifications?page_size=50", undefined, mine.token),
      (r: any) => ["liked", "commented on"].every((verb) => r.notifications?.some((n: any) => n.summary === `${followerHandle} ${verb} your post`)),
    );
    for (const verb of ["liked", "commented on"]) {
      expect(inbox.notifications.some((n: any) => n.summary === `${followerHandle} ${verb} your post`)).toBe(true);
    }
    const unread = await ok("GET", "/v1/notifications:unreadCount", undefined, mine.token);
    // (A reused mesh has seen this like and comment before: replays notify nobody.)
    if (!reuseEdge) expect(Number(unread.count ?? 0)).toBeGreaterThanOrEqual(2);
    await ok("POST", "/v1/notifications:markRead", {}, mine.token);
    expect(Number((await ok("GET", "/v1/notifications:unreadCount", undefined, mine.token)).count ?? 0)).toBe(0);
  });

  test("loading the demo a second time changes nothing", async () => {
    // A sample of public members: their follow counts, their posts, and each post's
    // like and comment counts must be exactly as before.
    const sample = users.filter((u) => !u.private && u.n % 32 === 0);
    const counts = async () => {
      const out: unknown[] = [];
      for (const u of sample) {
        const id = (await ok("GET", `/v1/handles/${u.handle}`)).profile.userId;
        const g = await ok("GET", `/v1/users/${id}/graph-counts`);
        const posts = (await ok("GET", `/v1/users/${id}/posts?page_size=100`)).posts ?? [];
        const ids = posts.map((p: any) => p.postId);
        const c = ids.length ? (await ok("GET", `/v1/post-counts:batchGet?${ids.map((x: string) => `post_ids=${x}`).join("&")}`)).counts : [];
        out.push({ handle: u.handle, g, ids, c });
      }
      return out;
    };
    const before = await counts();
    await setEdgeLimits(redisUrl, namespace, bulkImportLimits);
    let report: LoadReport;
    try {
      report = await new DemoLoader(edge).run();
    } finally {
      await setEdgeLimits(redisUrl, namespace, null, false);
    }
    const firstPosts = reuseEdge ? report.posts : Number(/posts: (\d+)/.exec(output)![1]);
    // The second run sees the same accounts, posts and media (same ids); my e2e post is
    // not the loader's, so it is not counted.
    expect(report.users).toBe(962);
    expect(report.posts).toBe(firstPosts);
    expect(await counts()).toEqual(before);
  }, hookTimeoutMs);
});
