/**
 * REST through the edge on a real mesh: every public RPC of every service has a route
 * from its google.api.http binding; the app's day-one calls work as plain REST; the
 * OpenAPI document is complete and its references resolve; /docs renders it from local
 * files.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Access, methodAccess } from "#kit/auth.ts";
import { edgeOwnedPaths } from "./registry.ts";
import { imagePath } from "../demo/data.ts";
import { startSocialTestbed, type SocialTestbed } from "../testbeds/social.ts";
import { edgeServices } from "./services.ts";
import { RouteTable } from "./transcode/route-table.ts";
import { restClient } from "#kit/testing/rest.ts";

let bed: SocialTestbed;

const rest = restClient(() => bed.mesh.url("edge"));

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "feed", "interaction", "notification"]);
});
afterAll(() => bed?.stop());

test("every public RPC of every service has a REST route", () => {
  const table = new RouteTable(edgeServices);
  const missing = edgeServices.flatMap((s) =>
    s.methods.filter((m) => methodAccess(m) !== Access.INTERNAL && !edgeOwnedPaths.has(`/${s.typeName}/${m.name}`) && !table.hasBinding(m)).map((m) => `${s.typeName}/${m.name}`),
  );
  expect(missing).toEqual([]);
  expect(table.routes.length).toBeGreaterThan(40);
});

describe("the app's first session, in REST", () => {
  test("sign up, sign in, profile, follow, post, feed, like, comment, notifications", async () => {
    const signup = (h: string) => rest("POST", "/v1/accounts", { handle: h, email: `${h}@reed.example`, password: "correct horse battery" });
    const a = await signup("reed_900");
    expect(a.status).toBe(200);
    const b = await signup("reed_901");
    const userA = a.json.account.userId as string;
    const userB = b.json.account.userId as string;
    const login = async (h: string) => (await rest("POST", "/v1/sessions", { login: h, password: "correct horse battery" })).json.accessToken as string;
    const [ta, tb] = [await login("reed_900"), await login("reed_901")];

    expect((await rest("GET", `/v1/users/${userA}`)).json.profile.handle).toBe("reed_900");
    expect((await rest("GET", "/v1/handles/reed_901")).json.profile.userId).toBe(userB);
    const patched = await rest("PATCH", `/v1/users/${userA}?update_mask=bio`, { bio: "春眠不觉晓" }, ta);
    expect(patched.json.profile.bio).toBe("春眠不觉晓");

    const follow = await rest("POST", `/v1/users/${userA}:follow`, {}, tb);
    expect(follow.json.state).toBe("FOLLOW_STATE_FOLLOWING");
    expect((await rest("GET", `/v1/users/${userA}/followers`)).json.users.map((u: any) => u.userId)).toEqual([userB]);
    expect((await rest("GET", `/v1/users/${userA}:follow`)).status).toBe(405);

    const upload = await fetch(`${bed.mesh.url("edge")}/v1/media?bucket=post-images`, {
      method: "POST",
      headers: { authorization: `Bearer ${ta}`, "content-type": "image/png" },
      body: readFileSync(imagePath("coffee.png")),
    });
    const mediaId = ((await upload.json()) as any).media.id as string;
    const post = await rest("POST", "/v1/posts", { mediaIds: [mediaId], caption: "#coffee first cup" }, ta);
    expect(post.status).toBe(200);
    const postId = post.json.post.postId as string;
    expect((await rest("GET", `/v1/users/${userA}/posts`)).json.posts[0].postId).toBe(postId);

    let feed;
    for (let i = 0; i < 50; i++) {
      feed = await rest("GET", "/v1/feeds/home?page_size=5", undefined, tb);
      if (feed.json.items?.length) break;
      await Bun.sleep(100);
    }
    expect(feed!.json.items[0].post.postId).toBe(postId);

    expect((await rest("POST", `/v1/posts/${postId}:like`, {}, tb)).json.counts.likes).toBe("1");
    const comment = await rest("POST", `/v1/posts/${postId}/comments`, { text: "looks great" }, tb);
    expect(comment.json.comment.text).toBe("looks great");
    expect((await rest("GET", `/v1/posts/${postId}/comments`)).json.comments).toHaveLength(1);
    const counts = await rest("GET", `/v1/post-counts:batchGet?post_ids=${postId}`);
    expect(counts.json.counts[0]).toMatchObject({ likes: "1", comments: "1" });

    let unread;
    for (let i = 0; i < 50; i++) {
      unread = await rest("GET", "/v1/notifications:unreadCount", undefined, ta);
      if (Number(unread.json.count) >= 3) break;
      await Bun.sleep(100);
    }
    expect(Number(unread!.json.count)).toBe(3); // follow, like, comment
    const inbox = await rest("GET", "/v1/notifications", undefined, ta);
    expect(inbox.json.notifications.map((n: any) => n.summary).sort()).toEqual(
      ["reed_901 commented on your post", "reed_901 followed you", "reed_901 liked your post"].sort(),
    );
    // A MarkReadResponse: unread_count 0 is proto3 JSON's default, so the body is `{}`; an
    // error body (code, message) must not pass for it.
    const marked = await rest("POST", "/v1/notifications:markRead", {}, ta);
    expect(marked.status).toBe(200);
    expect(marked.json).toEqual({});
    const after = await rest("GET", "/v1/notifications:unreadCount", undefined, ta);
    expect(after.status).toBe(200);
    expect(after.json).toEqual({}); // GetUnreadCountResponse with count 0
  });

  test("REST errors: 404, 401 and field violations as JSON", async () => {
    expect((await rest("GET", "/v1/nothing")).status).toBe(404);
    expect((await rest("GET", "/v1/feeds/home")).status).toBe(401);
    const bad = await rest("GET", "/v1/users/not-a-number");
    expect(bad.status).toBe(400);
    expect(bad.json.details[0].debug.fieldViolations[0].field).toBe("user_id");
    const unknown = await rest("GET", "/v1/users/1/followers?bogus=1");
    expect(unknown.json.details[0].debug.fieldViolations[0].field).toBe("bogus");
  });
});

describe("OpenAPI and docs", () => {
  test("the document covers every route, and every $ref resolves", async () => {
    const res = await rest("GET", "/openapi.json");
    expect(res.status).toBe(200);
    const doc = res.json;
    expect(doc.openapi).toBe("3.1.0");
    const table = new RouteTable(edgeServices);
    const ops = Object.values(doc.paths as Record<string, Record<string, any>>).flatMap((p) => Object.values(p));
    const public_ = table.routes.filter((r) => methodAccess(r.method) !== Access.INTERNAL);
    expect(ops.length).toBe(public_.length + 2); // + the edge's media routes
    for (const op of ops) expect(op.responses).toBeDefined();
    const refs = JSON.stringify(doc).match(/"\$ref":"#\/components\/schemas\/[^"]+"/g) ?? [];
    for (const r of new Set(refs)) {
      const name = r.slice('"$ref":"#/components/schemas/'.length, -1);
      expect(doc.components.schemas[name]).toBeDefined();
    }
    // Comments from the protos became descriptions; internal methods are absent.
    expect(doc.paths["/v1/accounts"].post.description).toContain("Idempotent by request_id");
    expect(JSON.stringify(doc)).not.toContain("ListFollowerIds");
    expect(doc.paths["/v1/feeds/home"].get.security).toEqual([{ bearerAuth: [] }]);
  });

  test("/docs renders with local assets only", async () => {
    const page = await fetch(`${bed.mesh.url("edge")}/docs`);
    const html = await page.text();
    expect(html).toContain("/docs/swagger-ui-bundle.js");
    expect(html).not.toMatch(/https?:\/\//);
    const js = await fetch(`${bed.mesh.url("edge")}/docs/swagger-ui-bundle.js`);
    expect(js.status).toBe(200);
    expect((await js.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
  });
});
