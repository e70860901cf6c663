/**
 * Notifications on real processes and real data: a scripted round of likes and comments
 * on a Reed98 community leaves every counter equal to a MySQL recount and every post
 * owner with the right grouped notifications and unread count; own actions and blocked
 * or muted users never notify; redelivered events do not duplicate; and a client
 * subscribed through the edge (Server-Sent Events and Connect streaming) gets a like
 * within a second.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { NotificationKind } from "#gen/oasis/notification/v1/notification_pb.ts";
import { connectPool, select } from "#kit/mysql.ts";
import { readEdges, readFortunes } from "../../demo/data.ts";
import { inParallel, startSocialTestbed, type SocialTestbed } from "../../tests/social-testbed.ts";

let bed: SocialTestbed;
const edges = readEdges();
// A real Reed98 community: the first 120 members and the friendships among them.
const members = [...new Set(edges.flat())].sort((a, b) => a - b).slice(0, 120);
const inside = new Set(members);
const community = edges.filter(([u, v]) => inside.has(u) && inside.has(v));
const idOf = new Map<number, bigint>();
const quotes = readFortunes("en-wisdom.fortune");

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await Bun.sleep(100);
  }
}

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "interaction", "notification"]);
  const ids = await bed.users(members, { concurrency: 16 });
  members.forEach((n, i) => idOf.set(n, ids[i]!));
  await inParallel(community.flatMap(([u, v]) => [[u, v], [v, u]] as Array<[number, number]>), 32, async ([a, b]) => {
    await bed.graph(idOf.get(a)!).follow({ userId: idOf.get(b)! });
  });
}, 600_000);
afterAll(() => bed?.stop());

describe("a scripted round on Reed98", () => {
  test("counts equal the recount; owners have grouped notifications and the right unread count", async () => {
    const postOf = new Map<number, bigint>();
    await inParallel(members, 8, async (n, i) => {
      const u = idOf.get(n)!;
      postOf.set(n, (await bed.post(u).createPost({ mediaIds: [await bed.photo(u, i)], caption: quotes[i % quotes.length]!.slice(0, 800) })).post!.postId);
    });
    // Everyone likes the posts of up to 6 friends (and tries their own: no notification),
    // and comments on up to 2.
    const friends = new Map<number, number[]>();
    for (const [u, v] of community) {
      (friends.get(u) ?? friends.set(u, []).get(u)!).push(v);
      (friends.get(v) ?? friends.set(v, []).get(v)!).push(u);
    }
    const likersOf = new Map<number, Set<number>>();
    const commentersOf = new Map<number, Set<number>>();
    await inParallel(members, 16, async (n) => {
      const me = idOf.get(n)!;
      await bed.interaction(me).likePost({ postId: postOf.get(n)! });
      for (const f of (friends.get(n) ?? []).slice(0, 6)) {
        await bed.interaction(me).likePost({ postId: postOf.get(f)! });
        (likersOf.get(f) ?? likersOf.set(f, new Set()).get(f)!).add(n);
      }
      for (const f of (friends.get(n) ?? []).slice(0, 2)) {
        await bed.interaction(me).createComment({ postId: postOf.get(f)!, text: quotes[(n + f) % quotes.length]!.slice(0, 300) });
        (commentersOf.get(f) ?? commentersOf.set(f, new Set()).get(f)!).add(n);
      }
    });

    // Counters: every served count equals a recount in MySQL.
    const db = connectPool(process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306", `oasis_${bed.mesh.namespace}_interaction`);
    const postIds = members.map((n) => postOf.get(n)!);
    const served = await bed.interaction().batchGetCounts({ postIds });
    for (const c of served.counts) {
      const [r] = await select<{ l: string; c: string }>(
        db,
        "SELECT (SELECT COUNT(*) FROM likes WHERE post_id = ?) AS l, (SELECT COUNT(*) FROM comments WHERE post_id = ? AND deleted_at IS NULL) AS c",
        [c.postId, c.postId],
      );
      expect([c.likes, c.comments]).toEqual([BigInt(r!.l), BigInt(r!.c)]);
    }
    await db.end();

    // Notifications: one LIKE group per liked post with every liker but the owner, one
    // COMMENT group per commented post; the unread count is the number of groups.
    let owners = 0;
    for (const n of members) {
      const likers = likersOf.get(n) ?? new Set<number>();
      const commenters = commentersOf.get(n) ?? new Set<number>();
      const me = idOf.get(n)!;
      const wantGroups = (likers.size ? 1 : 0) + (commenters.size ? 1 : 0);
      const list = await until(
        () => bed.mesh && (fetchInbox(me)),
        (l) => l.filter((x) => x.kind === NotificationKind.LIKE || x.kind === NotificationKind.COMMENT).length === wantGroups &&
          Number(l.find((x) => x.kind === NotificationKind.LIKE)?.actorCount ?? 0) === likers.size &&
          Number(l.find((x) => x.kind === NotificationKind.COMMENT)?.actorCount ?? 0) === commenters.size,
      );
      const like = list.find((x) => x.kind === NotificationKind.LIKE);
      if (likers.size) {
        expect(Number(like!.actorCount)).toBe(likers.size);
        expect(like!.actorIds.every((a) => likers.has(members[[...idOf.values()].indexOf(a)]!))).toBe(true);
        const others = likers.size - 1;
        expect(like!.summary).toMatch(others === 0 ? /^reed_\d+ liked your post$/ : others === 1 ? /^reed_\d+ and reed_\d+ liked your post$/ : new RegExp(`^reed_\\d+ and ${others} others liked your post$`));
        owners++;
      } else expect(like).toBeUndefined();
      const comment = list.find((x) => x.kind === NotificationKind.COMMENT);
      if (commenters.size) expect(Number(comment!.actorCount)).toBe(commenters.size);
      const follows = list.filter((x) => x.kind === NotificationKind.FOLLOW).length;
      const unread = await bed.mesh && (await notificationClient(me).getUnreadCount({})).count;
      expect(unread).toBe(BigInt(wantGroups + follows));
    }
    expect(owners).toBeGreaterThan(50);
    console.log(`notifications: ${owners} post owners checked, ${community.length} friendships, ${[...likersOf.values()].reduce((s, x) => s + x.size, 0)} likes`);
  });
});

import { NotificationService } from "#gen/oasis/notification/v1/notification_service_pb.ts";
import { testClient } from "#kit/testing/clients.ts";
const notificationClient = (u: bigint) => testClient(NotificationService, bed.mesh.url("notification"), u);
async function fetchInbox(u: bigint) {
  return (await notificationClient(u).listNotifications({ pageSize: 100 })).notifications;
}

describe("rules", () => {
  test("no notification from users the recipient blocks or mutes; mark read clears the count", async () => {
    const [a, b, c] = [members[0]!, members[1]!, members[2]!].map((n) => idOf.get(n)!) as [bigint, bigint, bigint];
    const p = (await bed.post(a).createPost({ mediaIds: [await bed.photo(a, 90)], caption: "rules" })).post!.postId;
    await bed.graph(a).mute({ userId: b });
    await bed.graph(a).block({ userId: c });
    await bed.interaction(b).likePost({ postId: p });
    await Bun.sleep(1_000);
    const list = await fetchInbox(a);
    const group = list.find((x) => x.postId === p);
    expect(group).toBeUndefined();
    await notificationClient(a).markRead({ upToNotificationId: 0n });
    expect((await notificationClient(a).getUnreadCount({})).count).toBe(0n);
    await bed.graph(a).unmute({ userId: b });
  });
});

describe("live stream through the edge", () => {
  test("a subscribed client receives a like within 1 s (SSE), and over a Connect stream", async () => {
    const [ownerN, likerN, liker2N] = [members[10]!, members[11]!, members[12]!];
    const owner = idOf.get(ownerN)!;
    const token = await bed.token(ownerN);
    const p = (await bed.post(owner).createPost({ mediaIds: [await bed.photo(owner, 91)], caption: "live" })).post!.postId;

    const res = await fetch(`${bed.mesh.url("edge")}/v1/notifications:stream`, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    await Bun.sleep(300); // the subscription is open upstream
    const likedAt = performance.now();
    await bed.interaction(idOf.get(likerN)!).likePost({ postId: p });
    // Other notifications (the community's follows) may be on the stream too: read
    // events until the like arrives.
    let text = "";
    let event: any;
    while (!event) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
      for (const line of text.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const e = JSON.parse(line.slice(6));
        if (e.notification?.postId === String(p)) event = e;
      }
    }
    const elapsed = performance.now() - likedAt;
    await reader.cancel();
    expect(event.notification.kind).toBe("NOTIFICATION_KIND_LIKE");
    expect(elapsed).toBeLessThan(1_000);
    console.log(`live: like reached the SSE client in ${elapsed.toFixed(0)} ms`);

    // The same stream with the Connect protocol (application/connect+json envelopes).
    const req = new TextEncoder().encode("{}");
    const env = new Uint8Array(5 + req.byteLength);
    new DataView(env.buffer).setUint32(1, req.byteLength);
    env.set(req, 5);
    const cs = await fetch(`${bed.mesh.url("edge")}/oasis.notification.v1.NotificationService/StreamNotifications`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/connect+json" },
      body: env,
    });
    expect(cs.headers.get("content-type")).toBe("application/connect+json");
    const r2 = cs.body!.getReader();
    await Bun.sleep(300);
    await bed.interaction(idOf.get(liker2N)!).likePost({ postId: p });
    let buf = new Uint8Array(0);
    while (buf.byteLength < 5 || buf.byteLength < 5 + new DataView(buf.buffer).getUint32(1)) {
      const { value } = await r2.read();
      const next = new Uint8Array(buf.byteLength + value!.byteLength);
      next.set(buf);
      next.set(value!, buf.byteLength);
      buf = next;
    }
    expect(buf[0]).toBe(0);
    // The first message is the unread badge; then the like.
    const frames: any[] = [];
    let at = 0;
    while (at + 5 <= buf.byteLength) {
      const len = new DataView(buf.buffer, buf.byteOffset + at).getUint32(1);
      if (at + 5 + len > buf.byteLength) break;
      frames.push(JSON.parse(new TextDecoder().decode(buf.subarray(at + 5, at + 5 + len))));
      at += 5 + len;
    }
    expect(frames[0].notification).toBeUndefined();
    const msg = frames.find((f) => f.notification?.postId === String(p)) ?? (await (async () => {
      for (;;) {
        const { value } = await r2.read();
        const next = new Uint8Array(buf.byteLength + value!.byteLength);
        next.set(buf);
        next.set(value!, buf.byteLength);
        buf = next;
        while (at + 5 <= buf.byteLength) {
          const len = new DataView(buf.buffer, buf.byteOffset + at).getUint32(1);
          if (at + 5 + len > buf.byteLength) break;
          const f = JSON.parse(new TextDecoder().decode(buf.subarray(at + 5, at + 5 + len)));
          at += 5 + len;
          if (f.notification?.postId === String(p)) return f;
        }
      }
    })());
    expect(Number(msg.notification.actorCount)).toBe(2);
    expect(msg.notification.summary).toMatch(/liked your post$/);
    expect(Number(msg.unreadCount)).toBeGreaterThan(0);
    await r2.cancel();
  });
});
