/**
 * Chat end to end on a real mesh (identity, graph, media, post, chat, notification, edge) in its own
 * namespace: requests and 1:1 dedup, the authorization matrix (a non-member reads,
 * sends to and reacts in no convo, directly or through the edge), blocks both ways,
 * "followers only", text and reaction limits, private chat images behind signed URLs,
 * two live SSE clients of one account, the REST routes from send to catch-up, unread
 * counters against a recount after a 64-client storm, and kill -9 of chat during a
 * 1,000-message storm (exactly once by request_id; an offline client catches up
 * through GetLog with no gap and no duplicate).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { baseConfig } from "#kit/config.ts";
import { errorReason } from "#kit/errors.ts";
import { connectPool, select, type Pool } from "#kit/mysql.ts";
import { inParallel } from "#kit/parallel.ts";
import { signPath } from "#kit/signed-url.ts";
import { testClient, type TestCaller } from "#kit/testing/clients.ts";
import { startTestMesh, type TestMesh } from "#kit/testing/mesh.ts";
import { until } from "#kit/testing/until.ts";
import { AllowIncoming, MemberStatus, type LogEntry } from "#gen/oasis/chat/v1/chat_pb.ts";
import { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { NotificationKind } from "#gen/oasis/notification/v1/notification_pb.ts";
import { NotificationService } from "#gen/oasis/notification/v1/notification_service_pb.ts";
import { imagePath, readEdges, readFortunes } from "../../demo/data.ts";
import { createReedAccounts } from "../../testbeds/reed-accounts.ts";
import { chatStore } from "./store.ts";
import { failureReason as failure } from "#kit/testing/errors.ts";

// The shared 2-core box can be slow; a timed-out test kills the mesh for every later one.
setDefaultTimeout(60_000);

let mesh: TestMesh;
const mediaDir = mkdtempSync(join(tmpdir(), "oasis-chat-media-"));
let chatDb: Pool;
const members = [...new Set(readEdges().flat())].slice(100, 174);
const ids: bigint[] = [];
const lines = [...readFortunes("zh-tang300.fortune").slice(0, 40), ...readFortunes("en-wisdom.fortune").slice(0, 40)].filter((l) => l.length <= 400);

const chat = (as: TestCaller) => testClient(ChatService, mesh.url("chat"), as);
const graph = (as: TestCaller) => testClient(GraphService, mesh.url("graph"), as);
const identity = (as?: TestCaller) => testClient(IdentityService, mesh.url("identity"), as);

async function token(i: number): Promise<string> {
  const r = await identity().createSession({ login: `reed_${members[i]}`, password: "correct horse battery" });
  return r.accessToken;
}

async function edge(method: string, path: string, tok: string, body?: unknown) {
  const res = await fetch(`${mesh.url("edge")}${path}`, {
    method,
    headers: { authorization: `Bearer ${tok}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

/** A live SSE subscription through the edge that collects every event. */
async function sse(tok: string) {
  const res = await fetch(`${mesh.url("edge")}/v1/convos:stream`, { headers: { authorization: `Bearer ${tok}`, accept: "text/event-stream" } });
  expect(res.status).toBe(200);
  const events: any[] = [];
  const reader = res.body!.getReader();
  let text = "";
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      text += new TextDecoder().decode(value);
      const parts = text.split("\n\n");
      text = parts.pop()!;
      for (const p of parts) if (p.startsWith("data: ")) events.push(JSON.parse(p.slice(6)));
    }
  })();
  await until(async () => events.length, (n) => n > 0);
  return { events, close: () => reader.cancel() };
}

beforeAll(async () => {
  mesh = await startTestMesh({
    services: ["identity", "graph", "media", "post", "chat", "notification"],
    edge: true,
    env: { OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "1024", OASIS_MEDIA_DATA_DIR: mediaDir, OASIS_CHAT_MESSAGES_PER_MINUTE: "1000000", OASIS_CHAT_CONVOS_PER_DAY: "1000000" },
  });
  ids.push(...(await createReedAccounts((as) => identity(as), members)));
  const cfg = baseConfig("chat", mesh.env);
  chatDb = connectPool(cfg.mysqlUrl, cfg.database);
}, 120_000);

afterAll(async () => {
  await chatDb?.end();
  await mesh?.stop();
  rmSync(mediaDir, { recursive: true, force: true });
}, 60_000);

describe("convos and rules", () => {
  test("a 1:1 convo is made once per pair; it lands in Requests unless the recipient follows the sender", async () => {
    const [a, b, c] = [ids[0]!, ids[1]!, ids[2]!];
    await graph(b).follow({ userId: a });
    const ab = (await chat(a).createConvo({ memberIds: [b] })).convo!;
    const again = (await chat(b).createConvo({ memberIds: [a] })).convo!;
    expect(again.convoId).toBe(ab.convoId);
    expect(again.status).toBe(MemberStatus.ACCEPTED);
    const ac = (await chat(a).createConvo({ memberIds: [c] })).convo!;
    const requests = (await chat(c).listConvos({ status: MemberStatus.REQUEST })).convos.map((x) => x.convoId);
    expect(requests).toEqual([ac.convoId]);
    expect((await chat(c).listConvos({ status: MemberStatus.ACCEPTED })).convos).toEqual([]);
    await chat(c).acceptConvo({ convoId: ac.convoId });
    expect(await failure(chat(a).createConvo({ memberIds: [b, 999_999_999n] }))).toEqual({ code: Code.InvalidArgument, reason: "BAD_MEMBERS" });
    expect((await chat(c).getConvo({ convoId: ac.convoId })).convo!.status).toBe(MemberStatus.ACCEPTED);
  });

  test("leaving a 1:1 convo hides it; the other member writing brings it back as a request", async () => {
    const [a, c] = [ids[0]!, ids[2]!];
    const convoId = (await chat(a).createConvo({ memberIds: [c] })).convo!.convoId;
    await chat(a).sendMessage({ convoId, text: lines[13]! });
    await chat(c).leaveConvo({ convoId });
    await chat(c).leaveConvo({ convoId });
    expect((await chat(c).listConvos({})).convos.map((x) => x.convoId)).not.toContain(convoId);
    expect((await failure(chat(c).listMessages({ convoId }))).reason).toBe("NOT_A_MEMBER");
    const m = (await chat(a).sendMessage({ convoId, text: lines[14]! })).message!;
    const back = (await chat(c).getConvo({ convoId })).convo!;
    expect([back.status, back.unreadCount, back.lastMessage?.messageId]).toEqual([MemberStatus.REQUEST, 1n, m.messageId]);
    const log = (await chat(c).getLog({ limit: 1000 })).entries.filter((e) => e.convoId === convoId).map((e) => e.event.case);
    expect(log.slice(-3)).toEqual(["leftUserId", "convoCreated", "messageCreated"]);
  });

  test("a non-member can read, send to or react in no convo (directly and through the edge)", async () => {
    const [a, b, outsider] = [ids[0]!, ids[1]!, ids[3]!];
    const convoId = (await chat(a).createConvo({ memberIds: [b] })).convo!.convoId;
    const m = (await chat(a).sendMessage({ convoId, text: lines[0]!, requestId: "authz-1" })).message!;
    const o = chat(outsider);
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["getConvo", () => o.getConvo({ convoId })],
      ["listMessages", () => o.listMessages({ convoId })],
      ["sendMessage", () => o.sendMessage({ convoId, text: "let me in" })],
      ["addReaction", () => o.addReaction({ convoId, messageId: m.messageId, value: "👍" })],
      ["removeReaction", () => o.removeReaction({ convoId, messageId: m.messageId, value: "👍" })],
      ["updateRead", () => o.updateRead({ convoId, messageId: m.messageId })],
      ["deleteMessageForSelf", () => o.deleteMessageForSelf({ convoId, messageId: m.messageId })],
      ["acceptConvo", () => o.acceptConvo({ convoId })],
      ["leaveConvo", () => o.leaveConvo({ convoId })],
      ["muteConvo", () => o.muteConvo({ convoId })],
    ];
    for (const [name, call] of calls) expect([name, await failure(call())]).toEqual([name, { code: Code.NotFound, reason: "NOT_A_MEMBER" }]);
    const tok = await token(3);
    for (const [method, path, body] of [
      ["GET", `/v1/convos/${convoId}`, undefined],
      ["GET", `/v1/convos/${convoId}/messages`, undefined],
      ["POST", `/v1/convos/${convoId}/messages`, { text: "let me in" }],
      ["POST", `/v1/convos/${convoId}/messages/${m.messageId}:addReaction`, { value: "👍" }],
      ["POST", `/v1/convos/${convoId}:read`, {}],
    ] as const) {
      const r = await edge(method, path, tok, body);
      expect([path, r.status, r.json.details?.[0]?.debug?.reason ?? r.json.reason ?? r.json.code]).toEqual([path, 404, expect.anything()]);
    }
    // Nothing of the convo reaches the outsider's log or lists, and the message is unchanged.
    const log = await o.getLog({});
    expect(log.entries.filter((e) => e.convoId === convoId)).toEqual([]);
    expect((await o.listConvos({})).convos.map((x) => x.convoId)).not.toContain(convoId);
    const seen = (await chat(b).listMessages({ convoId })).messages.find((x) => x.messageId === m.messageId)!;
    expect(seen.reactions).toEqual([]);
  });

  test("a block in either direction stops new convos and messages (PERMISSION_DENIED, BLOCKED)", async () => {
    const [a, d, e] = [ids[0]!, ids[4]!, ids[5]!];
    const convoId = (await chat(a).createConvo({ memberIds: [d] })).convo!.convoId;
    await chat(d).sendMessage({ convoId, text: lines[1]! });
    await graph(d).block({ userId: a });
    expect(await failure(chat(a).sendMessage({ convoId, text: "hello?" }))).toEqual({ code: Code.PermissionDenied, reason: "BLOCKED" });
    expect(await failure(chat(d).sendMessage({ convoId, text: "hello?" }))).toEqual({ code: Code.PermissionDenied, reason: "BLOCKED" });
    await graph(e).block({ userId: a });
    expect(await failure(chat(a).createConvo({ memberIds: [e] }))).toEqual({ code: Code.PermissionDenied, reason: "BLOCKED" });
    expect(await failure(chat(e).createConvo({ memberIds: [a] }))).toEqual({ code: Code.PermissionDenied, reason: "BLOCKED" });
  });

  test("a user whose setting is followers-only refuses others until they follow", async () => {
    const [a, f] = [ids[0]!, ids[6]!];
    await chat(f).updateChatSettings({ settings: { allowIncoming: AllowIncoming.FOLLOWERS } });
    expect((await chat(f).getChatSettings({})).settings!.allowIncoming).toBe(AllowIncoming.FOLLOWERS);
    expect(await failure(chat(a).createConvo({ memberIds: [f] }))).toEqual({ code: Code.PermissionDenied, reason: "RECIPIENT_DISALLOWS" });
    await graph(a).follow({ userId: f });
    const convo = (await chat(a).createConvo({ memberIds: [f] })).convo!;
    expect((await chat(f).getConvo({ convoId: convo.convoId })).convo!.status).toBe(MemberStatus.REQUEST);
  });

  test("text is at most 1,000 graphemes and 10,000 bytes; a reaction is one grapheme, idempotent", async () => {
    const [a, b] = [ids[0]!, ids[1]!];
    const convoId = (await chat(a).createConvo({ memberIds: [b] })).convo!.convoId;
    await chat(a).sendMessage({ convoId, text: "春".repeat(1000) });
    expect(await failure(chat(a).sendMessage({ convoId, text: "春".repeat(1001) }))).toEqual({ code: Code.InvalidArgument, reason: "TEXT_TOO_LONG" });
    expect((await failure(chat(a).sendMessage({ convoId, text: "👩‍👩‍👧".repeat(600) }))).code).toBe(Code.InvalidArgument);
    expect(await failure(chat(a).sendMessage({ convoId, text: "  " }))).toEqual({ code: Code.InvalidArgument, reason: "EMPTY_MESSAGE" });
    const m = (await chat(a).sendMessage({ convoId, text: lines[2]! })).message!;
    await chat(b).addReaction({ convoId, messageId: m.messageId, value: "👍🏽" });
    const twice = (await chat(b).addReaction({ convoId, messageId: m.messageId, value: "👍🏽" })).message!;
    expect(twice.reactions.map((r) => [r.userId, r.value])).toEqual([[b, "👍🏽"]]);
    expect(await failure(chat(b).addReaction({ convoId, messageId: m.messageId, value: "ab" }))).toEqual({ code: Code.InvalidArgument, reason: "BAD_REACTION" });
    expect((await chat(b).removeReaction({ convoId, messageId: m.messageId, value: "👍🏽" })).message!.reactions).toEqual([]);
    // Delete for self hides it from b only.
    await chat(b).deleteMessageForSelf({ convoId, messageId: m.messageId });
    expect((await chat(b).listMessages({ convoId })).messages.map((x) => x.messageId)).not.toContain(m.messageId);
    expect((await chat(a).listMessages({ convoId })).messages.map((x) => x.messageId)).toContain(m.messageId);
  });
});

test("message_sent becomes a \"new message\" notification, except in a muted convo", async () => {
  const [a, b, c] = [ids[11]!, ids[12]!, ids[13]!];
  const ab = (await chat(a).createConvo({ memberIds: [b] })).convo!.convoId;
  const ac = (await chat(a).createConvo({ memberIds: [c] })).convo!.convoId;
  await chat(c).muteConvo({ convoId: ac });
  await chat(a).sendMessage({ convoId: ac, text: "muted" });
  await chat(a).sendMessage({ convoId: ab, text: lines[11]! });
  const inbox = (u: bigint) => testClient(NotificationService, mesh.url("notification"), u).listNotifications({});
  const got = await until(() => inbox(b), (r) => r.notifications.some((n) => n.kind === NotificationKind.MESSAGE));
  const n = got.notifications.find((x) => x.kind === NotificationKind.MESSAGE)!;
  expect([n.actorIds, n.summary.endsWith("sent you a message")]).toEqual([[a], true]);
  // Unmuted, the next message notifies c; had the muted one notified, it would have opened
  // the group (same actor) and its text would still be "muted".
  await chat(c).unmuteConvo({ convoId: ac });
  await chat(a).sendMessage({ convoId: ac, text: lines[12]! });
  const forC = await until(() => inbox(c), (r) => r.notifications.some((x) => x.kind === NotificationKind.MESSAGE));
  expect(forC.notifications.filter((x) => x.kind === NotificationKind.MESSAGE).map((x) => x.text)).toEqual([lines[12]!.slice(0, 139) + (lines[12]!.length > 140 ? "…" : "")]);
});

describe("chat images", () => {
  test("bytes only through a valid signed URL, private and uncached; another image's URL opens nothing else", async () => {
    const [a, b, c] = [ids[0]!, ids[1]!, ids[2]!];
    const [ta, tc] = [await token(0), await token(2)];
    const upload = async (tok: string, name: string) => {
      const res = await fetch(`${mesh.url("edge")}/v1/media?bucket=chat-images`, {
        method: "POST",
        headers: { authorization: `Bearer ${tok}`, "content-type": name.endsWith(".png") ? "image/png" : "image/jpeg" },
        body: readFileSync(imagePath(name)),
      });
      expect(res.status).toBe(200);
      return BigInt(((await res.json()) as any).media.id);
    };
    const mine = await upload(ta, "coffee.png");
    const theirs = await upload(tc, "rocket.jpg");
    const ab = (await chat(a).createConvo({ memberIds: [b] })).convo!.convoId;
    const ac = (await chat(a).createConvo({ memberIds: [c] })).convo!.convoId;
    // Someone else's upload cannot be attached (it would give them a signed URL to it).
    expect(await failure(chat(a).sendMessage({ convoId: ab, mediaIds: [theirs] }))).toEqual({ code: Code.InvalidArgument, reason: "BAD_MEDIA" });
    await chat(a).sendMessage({ convoId: ab, text: lines[3]!, mediaIds: [mine] });
    await chat(c).sendMessage({ convoId: ac, mediaIds: [theirs] });
    const img = (await chat(b).listMessages({ convoId: ab })).messages[0]!.media[0]!;
    expect(img.mediaId).toBe(mine);
    const get = (path: string) => fetch(`${mesh.url("edge")}${path}`);
    const ok = await get(img.thumbUrl);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("cache-control")).toBe("private, no-store");
    expect((await ok.arrayBuffer()).byteLength).toBeGreaterThan(0);
    const [path, query] = img.feedUrl.split("?") as [string, string];
    expect((await get(path)).status).toBe(403);
    const q = new URLSearchParams(query);
    const altered = (k: string, v: string) => {
      const x = new URLSearchParams(q);
      x.set(k, v);
      return `${path}?${x}`;
    };
    expect((await get(altered("exp", String(Number(q.get("exp")) + 1)))).status).toBe(403);
    const sig = q.get("sig")!;
    expect((await get(altered("sig", (sig[0] === "A" ? "B" : "A") + sig.slice(1)))).status).toBe(403);
    // The signature of my image does not open c's image from another convo.
    expect((await get(`/media/${theirs}/feed?${query}`)).status).toBe(403);
    // Expired: a correctly signed URL whose time is up.
    const key = mesh.env.OASIS_MEDIA_URL_KEY!;
    expect((await get(signPath(key, `/media/${mine}/feed`, Date.now() / 1000 - 1))).status).toBe(403);
    expect((await get(signPath(key, `/media/${mine}/feed`, Date.now() / 1000 + 60))).status).toBe(200);
    // The public media API hands out unsigned URLs, which open nothing.
    const pub = (await (await fetch(`${mesh.url("edge")}/oasis.media.v1.MediaService/GetMedia`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ mediaId: String(mine) }) })).json()) as any;
    expect((await get(pub.media.variants.thumb.url)).status).toBe(403);
    void tc;
  });
});

describe("live and catch-up through the edge", () => {
  test("two clients on one account both receive a message sent by another user", async () => {
    const [a, b] = [ids[0]!, ids[1]!];
    const tb = await token(1);
    const [s1, s2] = [await sse(tb), await sse(tb)];
    expect(s1.events[0].cursor).toBeDefined();
    const convoId = (await chat(a).createConvo({ memberIds: [b] })).convo!.convoId;
    const sent = (await chat(a).sendMessage({ convoId, text: lines[4]!, requestId: "live-1" })).message!;
    const got = (s: { events: any[] }) => s.events.find((e) => e.entry?.messageCreated?.messageId === String(sent.messageId));
    await until(async () => [got(s1), got(s2)], (x) => x.every(Boolean));
    expect(got(s1).entry.messageCreated.text).toBe(lines[4]);
    expect(got(s2).entry.messageCreated.text).toBe(lines[4]);
    expect(got(s1).cursor).toBe(got(s2).cursor);
    await s1.close();
    await s2.close();
  });

  test("a live stream delivers every entry once, in cursor order, while four senders write at once", async () => {
    const rx = ids[3]!;
    const senders = [ids[1]!, ids[2]!, ids[6]!, ids[7]!];
    const convos = await Promise.all(senders.map(async (s) => (await chat(s).createConvo({ memberIds: [rx] })).convo!.convoId));
    const ac = new AbortController();
    const got: bigint[] = [];
    let start: bigint | undefined;
    void (async () => {
      for await (const m of chat(rx).streamConvoEvents({}, { signal: ac.signal, timeoutMs: 0 })) {
        if (m.entry) got.push(BigInt(m.entry.cursor));
        else start = BigInt(m.cursor);
      }
    })().catch(() => {});
    await until(async () => start, (x) => x !== undefined);
    await Promise.all(senders.map(async (s, j) => {
      for (let k = 0; k < 25; k++) await chat(s).sendMessage({ convoId: convos[j]!, text: lines[(j * 25 + k) % lines.length]! });
    }));
    await until(async () => got.length, (n) => n >= 100);
    ac.abort();
    expect(got).toEqual(got.map((_, i) => start! + 1n + BigInt(i)));
    expect(got.length).toBe(100);
  });

  test("REST: send, read, react and catch up from a cursor", async () => {
    const [tg, th] = [await token(7), await token(8)];
    const [g, h] = [ids[7]!, ids[8]!];
    const start = (await edge("GET", "/v1/convos:log", th)).json.cursor as string;
    const made = await edge("POST", "/v1/convos", tg, { memberIds: [String(h)] });
    expect(made.status).toBe(200);
    const convoId = made.json.convo.convoId as string;
    const sent: string[] = [];
    for (const text of lines.slice(5, 10)) {
      const r = await edge("POST", `/v1/convos/${convoId}/messages`, tg, { text, requestId: `rest-${sent.length}` });
      expect(r.status).toBe(200);
      sent.push(r.json.message.messageId);
    }
    expect((await edge("GET", "/v1/convos:unreadCounts", th)).json).toEqual({ total: "5", byConvo: { [convoId]: "5" } });
    const page = await edge("GET", `/v1/convos/${convoId}/messages?pageSize=3`, th);
    expect(page.json.messages.map((m: any) => m.messageId)).toEqual(sent.slice(2).reverse());
    const older = await edge("GET", `/v1/convos/${convoId}/messages?pageSize=3&pageToken=${page.json.nextPageToken}`, th);
    expect(older.json.messages.map((m: any) => m.messageId)).toEqual(sent.slice(0, 2).reverse());
    const read = await edge("POST", `/v1/convos/${convoId}:read`, th, { messageId: sent[2] });
    expect(read.json.convo.unreadCount).toBe("2");
    const react = await edge("POST", `/v1/convos/${convoId}/messages/${sent[4]}:addReaction`, th, { value: "❤️" });
    expect(react.json.message.reactions).toEqual([{ userId: String(h), value: "❤️" }]);
    // h catches up from before the convo existed: everything, in order, once.
    const log = await edge("GET", `/v1/convos:log?cursor=${start}`, th);
    const kinds = log.json.entries.map((e: any) => Object.keys(e).find((k) => !["cursor", "convoId"].includes(k)));
    expect(kinds).toEqual(["convoCreated", "messageCreated", "messageCreated", "messageCreated", "messageCreated", "messageCreated", "read", "reactionAdded"]);
    expect(log.json.entries.filter((e: any) => e.messageCreated).map((e: any) => e.messageCreated.messageId)).toEqual(sent);
    const cursors = log.json.entries.map((e: any) => BigInt(e.cursor));
    expect(cursors).toEqual(cursors.map((_: bigint, i: number) => BigInt(start) + 1n + BigInt(i)));
    expect((await edge("GET", "/v1/convos", th)).json.convos[0]).toMatchObject({ convoId, unreadCount: "2", lastMessage: { messageId: sent[4] } });
    void g;
  });
});

describe("storms", () => {
  test("unread counters equal a recount after sends and reads from 64 clients", async () => {
    const users = ids.slice(8, 72);
    // Eight groups of eight, plus each user's 1:1 with the next one.
    const convos: Array<{ id: bigint; members: bigint[] }> = [];
    for (let g = 0; g < 8; g++) {
      const m = users.slice(g * 8, g * 8 + 8);
      convos.push({ id: (await chat(m[0]!).createConvo({ memberIds: m.slice(1), requestId: `grp-${g}` })).convo!.convoId, members: m });
    }
    for (let i = 0; i < users.length; i++) {
      const pair = [users[i]!, users[(i + 1) % users.length]!];
      convos.push({ id: (await chat(pair[0]!).createConvo({ memberIds: [pair[1]!] })).convo!.convoId, members: pair });
    }
    const mine = new Map(users.map((u) => [u, convos.filter((c) => c.members.includes(u))]));
    let sends = 0;
    let reads = 0;
    await inParallel(users, 64, async (u, i) => {
      const client = chat(u);
      for (let k = 0; k < 12; k++) {
        const c = mine.get(u)![(i + k) % mine.get(u)!.length]!;
        if (k % 3 === 2) {
          await client.updateRead({ convoId: c.id, messageId: 0n });
          reads++;
        } else {
          await client.sendMessage({ convoId: c.id, text: lines[(i + k) % lines.length]!, requestId: `storm-${u}-${k}` });
          sends++;
        }
      }
    });
    expect(await chatStore.unreadDrift(chatDb)).toEqual([]);
    for (const u of users.slice(0, 16)) {
      const counts = await chat(u).getUnreadCounts({});
      const [r] = await select<{ n: string }>(
        chatDb,
        `SELECT COALESCE(SUM((SELECT COUNT(*) FROM messages x WHERE x.convo_id = m.convo_id AND x.message_id > m.read_message_id AND x.sender_id <> m.user_id)), 0) AS n
         FROM members m WHERE m.user_id = ? AND m.active = 1`,
        [u],
      );
      expect(counts.total).toBe(BigInt(r!.n));
    }
    console.log(`unread storm: 64 clients, ${sends} sends, ${reads} reads; every counter equals its recount`);
  }, 120_000);

  test("kill -9 of chat during a 1,000-message storm: every acknowledged message stored once; an offline client catches up with no gap", async () => {
    // Two users the other tests leave alone, so the convo holds the storm's messages only.
    const [a, b] = [ids[72]!, ids[73]!];
    const convoId = (await chat(a).createConvo({ memberIds: [b] })).convo!.convoId;
    const before = (await chat(b).getLog({ limit: 1 })).cursor;
    const head = async () => {
      let c = before;
      for (;;) {
        const r = await chat(b).getLog({ cursor: c, limit: 1000 });
        c = r.cursor;
        if (!r.hasMore) return c;
      }
    };
    const startCursor = await head();
    const total = 1000;
    const acked = new Map<number, bigint>();
    let retries = 0;
    let killed = 0;
    const client: Client<typeof ChatService> = chat(a);
    const killer = (async () => {
      for (const at of [200, 600]) {
        await until(async () => acked.size, (n) => n >= at, 120_000, 20);
        mesh.supervisor.kill9("chat");
        killed++;
        await mesh.supervisor.stop("chat"); // waits until the killed process is gone
        await mesh.supervisor.restart("chat");
      }
    })();
    await inParallel([...Array(total).keys()], 16, async (i) => {
      const giveUpAt = Date.now() + 90_000;
      for (;;) {
        try {
          const r = await client.sendMessage({ convoId, text: `${i}: ${lines[i % lines.length]}`, requestId: `crash-${i}` });
          acked.set(i, r.message!.messageId);
          return;
        } catch (err) {
          const code = ConnectError.from(err).code;
          if (![Code.Unavailable, Code.Internal, Code.Unknown, Code.Canceled, Code.DeadlineExceeded, Code.Aborted].includes(code) || Date.now() > giveUpAt) throw err;
          retries++;
          await Bun.sleep(50);
        }
      }
    });
    await killer;
    expect(killed).toBe(2);
    expect(acked.size).toBe(total);
    const rows = await select<{ message_id: string; text: string }>(chatDb, "SELECT message_id, text FROM messages WHERE convo_id = ?", [convoId]);
    expect(rows.length).toBe(total);
    const stored = new Map(rows.map((r) => [BigInt(r.message_id), r.text]));
    for (const [i, id] of acked) expect(stored.get(id)?.startsWith(`${i}: `)).toBe(true);
    // The offline client: b pages GetLog from the cursor it had before the storm.
    const entries: LogEntry[] = [];
    let cursor = startCursor;
    for (;;) {
      const r = await chat(b).getLog({ cursor, limit: 700 });
      entries.push(...r.entries);
      cursor = r.cursor;
      if (!r.hasMore) break;
    }
    const cursors = entries.map((e) => BigInt(e.cursor));
    expect(cursors).toEqual(cursors.map((_, i) => BigInt(startCursor) + 1n + BigInt(i)));
    const logged = entries.filter((e) => e.event.case === "messageCreated").map((e) => (e.event.value as { messageId: bigint }).messageId);
    expect(logged.length).toBe(total);
    expect(new Set(logged)).toEqual(new Set(acked.values()));
    console.log(`crash storm: ${total} messages, 2 kills, ${retries} retries; stored ${rows.length}, logged ${logged.length} with consecutive cursors`);
  }, 240_000);
});

test("rate limits: Remaining counts down; the 31st message within a minute is RESOURCE_EXHAUSTED with RetryInfo and the RateLimit fields", async () => {
  const { takeRate } = await import("./domain/rate-limit.ts");
  const { Redis } = await import("ioredis");
  const redis = new Redis(mesh.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379", { keyPrefix: `${mesh.namespace}:ratetest:` });
  try {
    // 1_000_000_000 ms is 40 s into its minute window: 20 s to the window's end.
    const states = [];
    for (let i = 0; i < 30; i++) states.push(await takeRate(redis, "messages", 1n, 30, 60_000, 1_000_000_000));
    expect(states.map((s) => s.remaining)).toEqual(Array.from({ length: 30 }, (_, i) => 29 - i));
    expect(new Set(states.map((s) => `${s.limit}/${s.resetSeconds}`))).toEqual(new Set(["30/20"]));
    const refusal = takeRate(redis, "messages", 1n, 30, 60_000, 1_000_000_000);
    const err = await failure(refusal);
    expect(err).toEqual({ code: Code.ResourceExhausted, reason: "RATE_LIMITED" });
    const meta = ConnectError.from(await refusal.catch((e) => e)).metadata;
    expect([meta.get("ratelimit-limit"), meta.get("ratelimit-remaining"), meta.get("ratelimit-reset")]).toEqual(["30", "0", "20"]);
    // A new window starts afresh.
    expect((await takeRate(redis, "messages", 1n, 30, 60_000, 1_000_060_000)).remaining).toBe(29);
  } finally {
    redis.disconnect();
  }
});
