/**
 * @oasis/client against a real test mesh (identity, graph, media, post and the edge):
 * typed calls in binary and JSON, sign-in, paging over real Reed98 follows, a real photo
 * upload and post, the edge's errors as ConnectErrors with their ErrorReason, and token
 * refresh both ahead of expiry and after the edge refused an expired token (access
 * tokens live 2 s in this mesh). Also: the package's generated code is what
 * clients/ts/buf.gen.yaml makes from proto/.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Visibility } from "@oasis/client/gen/oasis/post/v1/post_pb.ts";
import { Code, ConnectError, createOasisClient, errorReason, items, pages, type Session } from "@oasis/client";
import { until } from "#kit/testing/until.ts";
import { imagePath, readEdges } from "../demo/data.ts";
import { startSocialTestbed, type SocialTestbed } from "../testbeds/social.ts";

const password = "correct horse battery";
let bed: SocialTestbed;
let hub: number;
let fans: number[];
const ids = new Map<number, bigint>();

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post"], { env: { OASIS_IDENTITY_ACCESS_TTL_SECONDS: "2" } });
  // The Reed98 member with the most friends among the first 400 friendships, and 12 of them.
  const edges = readEdges().slice(0, 400);
  const degree = new Map<number, number[]>();
  for (const [a, b] of edges) {
    degree.set(a, [...(degree.get(a) ?? []), b]);
    degree.set(b, [...(degree.get(b) ?? []), a]);
  }
  [hub, fans] = [...degree.entries()].sort((x, y) => y[1].length - x[1].length)[0]!;
  fans = fans.slice(0, 12);
  expect(fans.length).toBe(12);
  const created = await bed.users([hub, ...fans]);
  [hub, ...fans].forEach((n, i) => ids.set(n, created[i]!));
});
afterAll(() => bed?.stop());

const url = () => bed.mesh.url("edge");

describe("@oasis/client", () => {
  test("signs in, follows, and pages through followers (binary and JSON)", async () => {
    for (const n of fans) {
      const c = createOasisClient({ baseUrl: url(), refreshAheadMs: 0 });
      const s = await c.signIn(`reed_${n}`, password);
      expect(s.userId).toBe(ids.get(n)!);
      await c.graph.follow({ userId: ids.get(hub)! });
    }
    for (const json of [false, true]) {
      const anon = createOasisClient({ baseUrl: url(), json });
      const seen: bigint[] = [];
      let count = 0;
      for await (const page of pages(anon.graph.listFollowers, { userId: ids.get(hub)!, pageSize: 5 })) {
        count++;
        seen.push(...page.users.map((u) => u.userId));
      }
      expect(count).toBe(3); // 5 + 5 + 2
      expect(seen.sort()).toEqual(fans.map((n) => ids.get(n)!).sort());
      const first7 = [];
      for await (const u of items(anon.graph.listFollowers, { userId: ids.get(hub)!, pageSize: 5 }, (p) => p.users)) {
        first7.push(u);
        if (first7.length === 7) break;
      }
      expect(first7.length).toBe(7);
    }
  });

  test("uploads a real photo and posts it; errors carry code and ErrorReason", async () => {
    const c = createOasisClient({ baseUrl: url() });
    await c.signIn(`reed_${hub}`, password);
    const bytes = new Uint8Array(readFileSync(imagePath("rocket.jpg")));
    const up = await c.upload("post-images", bytes, "image/jpeg", "client-test-rocket");
    expect(up.media!.id).toBeGreaterThan(0n);
    const again = await c.upload("post-images", bytes, "image/jpeg", "client-test-rocket");
    expect(again.media!.id).toBe(up.media!.id);
    const created = await c.post.createPost({ mediaIds: [up.media!.id], caption: "Liftoff #rocket", visibility: Visibility.PUBLIC, requestId: "client-test-post" });
    const read = await createOasisClient({ baseUrl: url() }).post.getPost({ postId: created.post!.postId });
    expect(read.post!.caption).toBe("Liftoff #rocket");
    expect(read.post!.hashtags).toEqual(["rocket"]);

    const missing = await c.identity.getProfile({ lookup: { case: "userId", value: 987_654_321_987n } }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ConnectError);
    expect((missing as ConnectError).code).toBe(Code.NotFound);
    expect(errorReason(missing)).toBe("ACCOUNT_NOT_FOUND");
    const notImage = await c.upload("post-images", new TextEncoder().encode("not an image"), "image/jpeg").catch((e: unknown) => e);
    expect((notImage as ConnectError).code).toBe(Code.InvalidArgument);
  });

  test("refreshes an expired access token after a 401, and ahead of expiry", async () => {
    const sessions: Array<Session | undefined> = [];
    const c = createOasisClient({ baseUrl: url(), refreshAheadMs: 0, onSession: (s) => sessions.push(s) });
    const first = await c.signIn(`reed_${fans[0]}`, password);
    // Wait until the edge itself refuses the token, so the retry path is what is tested.
    const status = await until(
      async () => (await fetch(`${url()}/v1/follow-requests`, { headers: { authorization: `Bearer ${first.accessToken}` } })).status,
      (s: number) => s === 401,
    );
    expect(status).toBe(401);
    const res = await c.graph.listFollowRequests({ pageSize: 10 });
    expect(res.requests).toEqual([]);
    expect(sessions.length).toBe(2);
    expect(c.session!.accessToken).not.toBe(first.accessToken);
    expect(c.session!.userId).toBe(first.userId);

    // Ahead of expiry: with 60 s ahead and tokens living 2 s, a call refreshes first, and
    // two concurrent calls share one refresh. (The new access token may equal the old one
    // when both were signed within the same second: same claims, deterministic EdDSA.)
    const aheadSessions: Array<Session | undefined> = [];
    const ahead = createOasisClient({ baseUrl: url(), refreshAheadMs: 60_000, onSession: (s) => aheadSessions.push(s) });
    const s0 = await ahead.signIn(`reed_${fans[1]}`, password);
    await Promise.all([ahead.graph.listFollowRequests({}), ahead.graph.listFollowRequests({})]);
    expect(aheadSessions.length).toBe(2);
    expect(ahead.session!.refreshToken).not.toBe(s0.refreshToken);

    // A revoked session cannot refresh: the client forgets it and says unauthenticated.
    const revoked = createOasisClient({ baseUrl: url(), refreshAheadMs: 60_000 });
    const s1 = await revoked.signIn(`reed_${fans[2]}`, password);
    await createOasisClient({ baseUrl: url() }).identity.revokeSession({ refreshToken: s1.refreshToken });
    const err = await revoked.graph.listFollowRequests({}).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    expect(revoked.session).toBeUndefined();
  }, 60_000);
});

test("clients/ts/src/gen is what clients/ts/buf.gen.yaml generates from proto/", async () => {
  const root = join(import.meta.dir, "..");
  const tmp = mkdtempSync(join(tmpdir(), "oasis-client-gen-"));
  const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
  try {
    const proc = Bun.spawn([join(root, "node_modules", ".bin", "buf"), "generate", "--template", "clients/ts/buf.gen.yaml", "--output", tmp], { cwd: root, stderr: "pipe" });
    expect(await proc.exited).toBe(0);
    const fresh = join(tmp, "clients", "ts", "src", "gen");
    const committed = join(root, "clients", "ts", "src", "gen");
    const list = (d: string) => files(d).map((f) => relative(d, f)).sort();
    expect(list(committed)).toEqual(list(fresh));
    for (const f of list(fresh)) expect({ f, text: readFileSync(join(committed, f), "utf8") }).toEqual({ f, text: readFileSync(join(fresh, f), "utf8") });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
