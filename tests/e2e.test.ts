/**
 * End to end (issue 9): runs the main job (`bun demo/main.ts`, the same code as the first
 * README command) from scratch in a fresh namespace on free ports, waits for its summary
 * and the running mesh, then acts as the app through the edge's REST API only: signs in
 * as a demo user, reads the hydrated home feed and downloads its images, follows
 * someone, posts a new photo, sees the post in a follower's home feed, is liked and
 * commented on, and reads the notifications. Before that it checks the load itself:
 * every post's counts against a MySQL recount and every liked post's owner's grouped
 * like notifications and unread count. Last, Ctrl-C stops the main job and
 * `bun demo/main.ts --exit` starts the mesh again on the same data and loads a slice of
 * the demo a second time (OASIS_DEMO_SLICE: 66 members, every kind of request the load
 * makes, each exactly as the whole load made it), which must change no stored record
 * (idempotent request ids and Idempotency-Keys). The whole load runs once.
 *
 * The whole Reed98 load takes about five minutes on the 2-core machine; the hooks wait
 * up to 20.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { mesh } from "../mesh.config.ts";
import { cleanupNamespace, testNamespace } from "../kit/testing/namespace.ts";
import { freePort } from "../kit/testing/ports.ts";
import { imagePath } from "../demo/data.ts";
import { demoGraph, demoPassword } from "../demo/users.ts";
import { DemoLoader, demoSlice, sliceAuthors, type LoadReport } from "../demo/loader.ts";
import { bulkImportLimits, setEdgeLimits } from "../edge/limits-admin.ts";
import { databaseName, sharedConfig } from "../kit/config.ts";
import { inParallel } from "../kit/parallel.ts";
import { until } from "../kit/testing/until.ts";
import mysql from "mysql2/promise";
import { restClient } from "#kit/testing/rest.ts";

const root = join(import.meta.dir, "..");
// For working on this test: OASIS_E2E_EDGE_URL=<edge of a running `npm run demo`> skips
// starting the main job (and the checks of its output) and uses that mesh instead.
const reuseEdge = process.env.OASIS_E2E_EDGE_URL;
const namespace = reuseEdge ? (process.env.OASIS_NAMESPACE ?? "") : testNamespace();
const redisUrl = process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379";
let demo: Subprocess<"ignore", "pipe", "pipe">;
let demoEnv: Record<string, string> = {};
let edge = "";
/** The edge's admin URL (/metrics); with OASIS_E2E_EDGE, its port + 1000 as `npm run mesh` binds it. */
let edgeMetrics = "";
let output = "";
const hookTimeoutMs = 20 * 60_000;
/**
 * The second load's slice: the first 16 members and the friends their requests need (66
 * members, 410 follows, refer-tos, likes, comments, tips and 24 chats among them).
 */
const sliceSeeds = 16;

async function waitForLine(pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(output)) {
    if (demo.exitCode !== null) throw new Error(`demo exited (${demo.exitCode}) before ${pattern}:\n${output.slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} after ${timeoutMs} ms:\n${output.slice(-4000)}`);
    await Bun.sleep(250);
  }
}

function collect(stream: ReadableStream<Uint8Array>, into: (text: string) => void = (t) => (output += t)): void {
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) into(decoder.decode(chunk, { stream: true }));
  })();
}

/** Rows of a query on one service's database in this namespace. */
async function sql<T = any>(service: string, query: string, params: unknown[] = []): Promise<T[]> {
  const conn = await mysql.createConnection({ uri: sharedConfig(process.env).mysqlUrl, database: databaseName(service, namespace), supportBigNumbers: true, bigNumberStrings: true });
  try {
    return (await conn.query(query, params))[0] as T[];
  } finally {
    await conn.end();
  }
}

/**
 * What the demo stored, as row counts of the domain tables (not sessions or outboxes,
 * which a second sign-in rightly adds to, nor the operator account `loader_<hex>` that
 * each run of the main job makes to raise the edge's limits through the admin RPC).
 */
async function storedRecords(): Promise<Record<string, string>> {
  const tables: Array<[string, string]> = [
    ["identity", "SELECT COUNT(*) AS n FROM accounts WHERE handle NOT LIKE 'loader\\_%'"],
    ["graph", "SELECT COUNT(*) AS n FROM follows"],
    ["graph", "SELECT COUNT(*) AS n FROM follow_requests"],
    ["media", "SELECT COUNT(*) AS n FROM media"],
    ["post", "SELECT COUNT(*) AS n FROM posts"],
    ["interaction", "SELECT COUNT(*) AS n FROM likes"],
    ["interaction", "SELECT COUNT(*) AS n FROM comments"],
    ["interaction", "SELECT COUNT(*) AS n FROM refers"],
    ["chat", "SELECT COUNT(*) AS n FROM convos"],
    ["chat", "SELECT COUNT(*) AS n FROM messages"],
  ];
  const out: Record<string, string> = {};
  for (const [service, query] of tables) out[`${service}: ${query}`] = String((await sql(service, query))[0].n);
  return out;
}

const rest = restClient(() => edge);

async function ok(method: string, path: string, body?: unknown, token?: string): Promise<any> {
  const r = await rest(method, path, body, token);
  if (r.status !== 200) throw new Error(`${method} ${path} -> ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

/**
 * The test's own admin (named in OASIS_ADMIN_HANDLES of the mesh it starts; a reused
 * edge's mesh must name it too): created on first use, signed in afresh each time
 * because an access token lives 15 minutes.
 */
const e2eAdminHandle = "e2e_admin";
const e2eAdminPassword = randomBytes(18).toString("base64url");
let e2eAdminCreated = false;
async function adminToken(): Promise<string> {
  if (!e2eAdminCreated) {
    await ok("POST", "/v1/accounts", { handle: e2eAdminHandle, email: `${e2eAdminHandle}@admin.invalid`, password: e2eAdminPassword });
    e2eAdminCreated = true;
  }
  return (await ok("POST", "/v1/sessions", { login: e2eAdminHandle, password: e2eAdminPassword })).accessToken;
}

async function signIn(handle: string): Promise<{ token: string; userId: string }> {
  const s = await ok("POST", "/v1/sessions", { login: handle, password: demoPassword });
  return { token: s.accessToken, userId: s.userId ?? (await ok("GET", `/v1/handles/${handle}`)).profile.userId };
}

function followedBy(n: { summary: string }, handle: string): boolean {
  return n.summary.startsWith(`${handle} `) && n.summary.endsWith(" followed you");
}

/** Polls `read` until `done` holds (fan-out and notifications are asynchronous). */
const eventually = <T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 30_000) => until(read, done, timeoutMs, 200);

beforeAll(async () => {
  if (reuseEdge) {
    edge = reuseEdge;
    const u = new URL(reuseEdge);
    edgeMetrics = `${u.protocol}//${u.hostname}:${Number(u.port) + 1000}`;
    return;
  }
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    OASIS_NAMESPACE: namespace,
    OASIS_LOG_LEVEL: "warn",
    OASIS_ADMIN_HANDLES: e2eAdminHandle,
    // One KEK for both runs of the main job on the same data.
    OASIS_IDENTITY_KEK: randomBytes(32).toString("base64"),
    // Argon2id with 1 MiB instead of identity's 19 MiB (as every testbed): the accounts
    // and sessions steps spent 182 s of the last CI's 507 s load hashing passwords; the
    // hash's cost is identity's own tests' subject, not this flow's.
    OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "1024",
  };
  for (const e of mesh) {
    env[`OASIS_${e.name.toUpperCase()}_PORT`] = String(await freePort());
    env[`OASIS_${e.name.toUpperCase()}_METRICS_PORT`] = String(await freePort());
  }
  const edgePort = await freePort();
  env.OASIS_EDGE_PORT = String(edgePort);
  env.OASIS_EDGE_METRICS_PORT = String(await freePort());
  edgeMetrics = `http://127.0.0.1:${env.OASIS_EDGE_METRICS_PORT}`;
  edge = `http://127.0.0.1:${edgePort}`;
  demoEnv = env;
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

  test.skipIf(!!reuseEdge)("every count equals a MySQL recount, and every liked post's owner has its like group", async () => {
    // Counts: BatchGetCounts (Redis) for every post against a recount of the rows.
    const posts = await sql<{ post_id: string; author_id: string }>("post", "SELECT post_id, author_id FROM posts WHERE deleted_at IS NULL");
    expect(posts.length).toBeGreaterThan(900);
    const recount = new Map<string, { likes: string; comments: string; refers: string }>(posts.map((p) => [p.post_id, { likes: "0", comments: "0", refers: "0" }]));
    const sources = [
      ["interaction", "likes", "SELECT post_id, COUNT(*) AS n FROM likes GROUP BY post_id"],
      ["interaction", "comments", "SELECT post_id, COUNT(*) AS n FROM comments WHERE deleted_at IS NULL GROUP BY post_id"],
      // Refers are counted from post events; the posts themselves are the truth.
      ["post", "refers", "SELECT refer_post_id AS post_id, COUNT(*) AS n FROM posts WHERE refer_post_id <> 0 AND deleted_at IS NULL GROUP BY refer_post_id"],
    ] as const;
    for (const [service, column, query] of sources) {
      for (const r of await sql<{ post_id: string; n: string }>(service, query)) {
        const c = recount.get(r.post_id);
        if (c) c[column] = String(r.n);
      }
    }
    const ids = [...recount.keys()];
    const mismatches = async () => {
      const out: unknown[] = [];
      for (let i = 0; i < ids.length; i += 100) {
        const page = ids.slice(i, i + 100);
        const res = await ok("GET", `/v1/post-counts:batchGet?${page.map((x) => `post_ids=${x}`).join("&")}`);
        for (const c of res.counts) {
          const got = { likes: c.likes ?? "0", comments: c.comments ?? "0", refers: c.refers ?? "0" };
          const want = recount.get(c.postId);
          if (JSON.stringify(got) !== JSON.stringify(want)) out.push({ postId: c.postId, got, want });
        }
      }
      return out;
    };
    // Refer counts follow post events, which may still be in flight right after the load.
    expect(await eventually(mismatches, (m) => m.length === 0, 120_000)).toEqual([]);
    const liked = [...recount.values()].filter((c) => c.likes !== "0").length;
    expect(liked).toBeGreaterThan(100);

    // Notifications: each owner gets one unread "liked your post" group per liked post,
    // counting every liker but the owner. The consumer may still be catching up with the
    // load, so wait for the stored groups first, then read every owner's inbox through
    // the edge as that owner.
    const authorOf = new Map(posts.map((p) => [p.post_id, p.author_id]));
    const expected = new Map<string, Map<string, number>>(); // owner -> post -> likers
    for (const l of await sql<{ post_id: string; user_id: string }>("interaction", "SELECT post_id, user_id FROM likes")) {
      const owner = authorOf.get(l.post_id);
      if (!owner || owner === l.user_id) continue;
      const mine = expected.get(owner) ?? new Map<string, number>();
      mine.set(l.post_id, (mine.get(l.post_id) ?? 0) + 1);
      expected.set(owner, mine);
    }
    const wanted = [...expected.values()].reduce((n, m) => n + [...m.values()].reduce((a, b) => a + b, 0), 0);
    const t0 = performance.now();
    await eventually(
      async () => Number((await sql("notification", "SELECT COALESCE(SUM(actor_count), 0) AS n FROM notifications WHERE kind = 3"))[0].n),
      (n) => n >= wanted,
      600_000,
    );
    console.log(`like notifications complete ${((performance.now() - t0) / 1000).toFixed(1)} s after the load; checking ${expected.size} owners' inboxes`);
    const handleOf = new Map((await sql<{ user_id: string; handle: string }>("identity", "SELECT user_id, handle FROM accounts")).map((a) => [a.user_id, a.handle]));
    await setEdgeLimits(edge, await adminToken(), bulkImportLimits);
    try {
      await inParallel([...expected.entries()], 4, async ([owner, likedPosts]) => {
        const { token } = await signIn(handleOf.get(owner)!);
        const entries: any[] = [];
        let pageToken = "";
        do {
          const page = await ok("GET", `/v1/notifications?page_size=100${pageToken ? `&page_token=${pageToken}` : ""}`, undefined, token);
          entries.push(...(page.notifications ?? []));
          pageToken = page.nextPageToken ?? "";
        } while (pageToken);
        const likeGroups = new Map<string, number>();
        for (const n of entries.filter((e) => e.kind === "NOTIFICATION_KIND_LIKE")) {
          expect(likeGroups.has(n.postId)).toBe(false); // one open group per post
          likeGroups.set(n.postId, Number(n.actorCount));
          const others = Number(n.actorCount) - 1;
          expect(n.summary).toMatch(others === 0 ? /^reed_\d+ liked your post$/ : others === 1 ? /^reed_\d+ and reed_\d+ liked your post$/ : new RegExp(`^reed_\\d+ and ${others} others liked your post$`));
        }
        expect({ owner, likeGroups: Object.fromEntries(likeGroups) }).toEqual({ owner, likeGroups: Object.fromEntries(likedPosts) });
        // Nobody has read anything yet: the badge counts every entry.
        const unread = await ok("GET", "/v1/notifications:unreadCount", undefined, token);
        expect(Number(unread.count ?? 0)).toBe(entries.filter((e) => !e.read).length);
        expect(entries.every((e) => !e.read)).toBe(true);
      });
    } finally {
      await setEdgeLimits(edge, await adminToken(), null, { wait: false });
    }
  }, hookTimeoutMs);

  test("the edge serves its docs and metrics", async () => {
    expect((await fetch(`${edge}/docs`)).status).toBe(200);
    expect((await ok("GET", "/openapi.json")).openapi).toBe("3.1.0");
    const metrics = await (await fetch(`${edgeMetrics}/metrics`)).text();
    expect(metrics.includes('edge_http_requests_total{route="/oasis.graph.v1.GraphService/BatchCreateFollows",method="POST",status="200"')).toBe(true);
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
    // A third of the demo's members post a refer-to instead of a photo, so my friends'
    // posts hold some: page until one is found (never skip the check). Each refer's
    // `available` must match whether I can read the referred post myself.
    const refers: any[] = feed.items.filter((i: any) => i.post.referPostId);
    for (let page = feed, n = 0; refers.length === 0 && page.nextPageToken && n < 20; n++) {
      page = await ok("GET", `/v1/feeds/home?page_size=30&page_token=${encodeURIComponent(page.nextPageToken)}`, undefined, mine.token);
      refers.push(...page.items.filter((i: any) => i.post.referPostId));
    }
    expect(refers.length).toBeGreaterThan(0);
    for (const r of refers) {
      const direct = await rest("GET", `/v1/posts/${r.post.referPostId}`, undefined, mine.token);
      expect([200, 404]).toContain(direct.status);
      expect(r.refer.available ?? false).toBe(direct.status === 200);
      expect(r.refer.post?.postId).toBe(direct.status === 200 ? r.post.referPostId : undefined);
    }
  });

  test("the demo load is searchable: Chinese text, a Chinese hashtag, a handle prefix", async () => {
    const q = (path: string) => ok("GET", path, undefined, mine.token);
    const moon = await eventually(() => q(`/v1/search/posts?query=${encodeURIComponent("月")}`), (r) => r.posts?.length > 0, 60_000);
    expect(moon.posts.every((v: any) => v.post.caption.includes("月"))).toBe(true);
    const tang = await q(`/v1/search/posts?query=${encodeURIComponent("#唐诗")}`);
    expect(tang.posts.length).toBeGreaterThan(0);
    expect(tang.posts.every((v: any) => v.post.hashtags.includes("唐诗"))).toBe(true);
    // The typeahead: reed_12 itself, then every handle it begins (reed_120..reed_129),
    // before any other match (a typo such as reed_13, or the words in a bio).
    const users = await q("/v1/search/users?query=reed_12");
    const handles: string[] = users.users.map((u: any) => u.profile.handle);
    const prefixed = handles.filter((h) => h.startsWith("reed_12"));
    expect(handles[0]).toBe("reed_12");
    expect(prefixed.length).toBeGreaterThanOrEqual(10);
    expect(handles.slice(0, prefixed.length)).toEqual(prefixed);
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
    const media = ((await up.json()) as any).media;
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

  test("loading a slice of the demo a second time changes nothing", async () => {
    // On a reused mesh: a sample of public members' follow counts, posts, and each post's
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
    const slice = demoSlice(sliceSeeds);
    if (reuseEdge) {
      const before = await counts();
      await setEdgeLimits(edge, await adminToken(), bulkImportLimits);
      try {
        const report: LoadReport = await new DemoLoader(edge, { members: slice }).run();
        expect(report.users).toBe(slice.size);
      } finally {
        await setEdgeLimits(edge, await adminToken(), null, { wait: false });
      }
      expect(await counts()).toEqual(before);
      return;
    }
    // The README's way: Ctrl-C stops the running main job cleanly, and
    // `bun demo/main.ts --exit` starts the mesh again on the same data, loads (a slice of)
    // the demo a second time, prints its summary and exits.
    const records = await storedRecords();
    // The first load's posts of the members whose post the slice's load makes (my e2e
    // post is not the loader's; a refer-to whose target is outside the slice is not made).
    const authors = sliceAuthors(slice);
    const authorIds = (await sql<{ user_id: string }>("identity", "SELECT user_id FROM accounts WHERE handle IN (?)", [authors.map((n) => `reed_${n}`)])).map((a) => a.user_id);
    expect(authorIds.length).toBe(authors.length);
    const slicePosts = (await sql("post", "SELECT COUNT(*) AS n FROM posts WHERE author_id IN (?) AND post_id <> ? AND deleted_at IS NULL", [authorIds, postId]))[0].n;
    expect(Number(slicePosts)).toBeGreaterThan(40);
    demo.kill("SIGINT");
    expect(await Promise.race([demo.exited, Bun.sleep(60_000).then(() => "still running")])).toBe(0);
    let second = "";
    const rerun = Bun.spawn([process.execPath, join(root, "demo", "main.ts"), "--exit"], {
      env: { ...demoEnv, OASIS_DEMO_SLICE: String(sliceSeeds) },
      stdout: "pipe",
      stderr: "pipe",
      stdin: "ignore",
    });
    collect(rerun.stdout, (t) => (second += t));
    collect(rerun.stderr, (t) => (second += t));
    const code = await Promise.race([rerun.exited, Bun.sleep(hookTimeoutMs - 120_000).then(() => "timed out")]);
    if (code !== 0) {
      rerun.kill("SIGINT"); // lets it stop the mesh processes it started
      await Promise.race([rerun.exited, Bun.sleep(30_000)]);
      rerun.kill("SIGKILL");
    }
    expect({ code, tail: code === 0 ? "" : second.slice(-3000) }).toEqual({ code: 0, tail: "" });
    console.log(second.slice(second.indexOf("=== Oasis demo loaded ===")).trim());
    expect(second).not.toContain("The mesh keeps running");
    // The second run sees the slice's accounts and posts (same ids) and replays every
    // kind of request the load makes (approvals: the private members' lists are empty now).
    expect(/users: (\d+)/.exec(second)?.[1]).toBe(String(slice.size));
    expect(/posts: (\d+)/.exec(second)?.[1]).toBe(String(slicePosts));
    for (const step of ["accounts", "sessions", "profiles", "follows", "approvals", "photos", "photo posts", "refer-tos", "likes", "comments", "tips", "chats"]) {
      expect({ step, count: Number(new RegExp(`\\n  ${step} +(\\d+) in`).exec(second)?.[1] ?? 0) > 0 }).toEqual({ step, count: true });
    }
    expect(/likes: (\d+)/.exec(second)?.[1]).not.toBe("0");
    expect(/comments: (\d+)/.exec(second)?.[1]).not.toBe("0");
    expect(await storedRecords()).toEqual(records);
  }, hookTimeoutMs);
});
