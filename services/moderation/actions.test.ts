/**
 * Actions reach every read path, on a real mesh (identity, graph, media, post,
 * interaction, feed, search, notification, moderation, edge): a takedown disappears from
 * a follower's home feed, the author's user feed, GetPost and search, and REVERSE brings
 * it back everywhere (owner and reporter notified); a label reaches PostView; an appeal
 * goes to another reviewer; keyword rules act on new content; a suspension refuses sign-in and the account's existing tokens at the edge,
 * and lifts itself after its duration. The operation log tells the story. Times from the
 * action's answer to the last read path agreeing are printed (one run), not asserted.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { baseConfig } from "#kit/config.ts";
import { errorReason } from "#kit/errors.ts";
import { connectPool, select, type Pool } from "#kit/mysql.ts";
import { testAdminHandle } from "#kit/testing/mesh.ts";
import { testClient } from "#kit/testing/clients.ts";
import { until } from "#kit/testing/until.ts";
import { ActionType, ReasonType, SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import { ModerationService, RuleEffect } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import { SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import { NotificationKind } from "#gen/oasis/notification/v1/notification_pb.ts";
import { NotificationService } from "#gen/oasis/notification/v1/notification_service_pb.ts";
import { readEdges } from "../../demo/data.ts";
import { seedModeration } from "../../demo/moderation.ts";
import { demoGraph, demoPassword } from "../../demo/users.ts";
import { startSocialTestbed, type SocialTestbed } from "../../testbeds/social.ts";

setDefaultTimeout(60_000);

let bed: SocialTestbed;
let db: Pool;
const searchDir = mkdtempSync(join(tmpdir(), "oasis-moderation-search-"));
const members = [...new Set(readEdges().flat())].slice(300, 306);
let ids: bigint[] = [];
let admin: bigint;
const moderation = (as: bigint) => testClient(ModerationService, bed.mesh.url("moderation"), as);
const search = (as: bigint) => testClient(SearchService, bed.mesh.url("search"), as);
const inbox = (as: bigint, kind: NotificationKind) =>
  testClient(NotificationService, bed.mesh.url("notification"), as)
    .listNotifications({ pageSize: 50 })
    .then((r) => r.notifications.filter((n) => n.kind === kind).map((n) => n.summary));

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "interaction", "feed", "search", "notification", "moderation"], {
    env: { OASIS_SEARCH_DATA_DIR: searchDir, OASIS_MEILI_URL: "" },
  });
  ids = await bed.users(members);
  admin = (await bed.identity().createAccount({ handle: testAdminHandle, email: "admin@reed.example", password: "correct horse battery" })).account!.userId;
  await bed.identity(admin).grantRole({ handle: `reed_${members[3]}`, role: "moderator" });
  await bed.identity(admin).grantRole({ handle: `reed_${members[4]}`, role: "moderator" });
  const cfg = baseConfig("moderation", bed.mesh.env);
  db = connectPool(cfg.mysqlUrl, cfg.database, 2);
}, 180_000);

afterAll(async () => {
  await db?.end();
  await bed?.stop();
  rmSync(searchDir, { recursive: true, force: true });
}, 60_000);

async function claimFor(reviewer: bigint, ticketId: bigint, queue: string): Promise<string> {
  const c = await until(
    () => moderation(reviewer).claimNextReview({ queue }),
    (r) => r.ticket?.ticketId === ticketId,
    10_000,
  );
  return c.leaseToken;
}

describe("takedown", () => {
  test("gone from the follower's home feed, the user feed, GetPost and search; REVERSE brings it back", async () => {
    const [author, follower, reporter, reviewer] = [ids[0]!, ids[1]!, ids[2]!, ids[3]!];
    await bed.graph(follower).follow({ userId: author });
    const caption = "moderation lighthouse keeper watches the harbour";
    const postId = (await bed.post(author).createPost({ mediaIds: [await bed.photo(author, 0)], caption })).post!.postId;

    type Seen = { home: boolean; user: boolean; get: boolean; search: boolean };
    const seen = async (): Promise<Seen> => {
      const [home, user, get, found] = await Promise.all([
        bed.feed(follower).getHomeFeed({ pageSize: 50 }),
        bed.feed(follower).getUserFeed({ userId: author, pageSize: 50 }),
        bed.post(follower).getPost({ postId }).then(
          () => true,
          (err) => (ConnectError.from(err).code === Code.NotFound ? false : Promise.reject(err)),
        ),
        search(follower).searchPosts({ query: "lighthouse harbour" }),
      ]);
      return {
        home: home.items.some((i) => i.post?.postId === postId),
        user: user.items.some((i) => i.post?.postId === postId),
        get,
        search: found.posts.some((p) => p.post?.postId === postId),
      };
    };
    const everywhere = { home: true, user: true, get: true, search: true };
    const nowhere = { home: false, user: false, get: false, search: false };
    expect(await until(seen, (s) => JSON.stringify(s) === JSON.stringify(everywhere), 20_000)).toEqual(everywhere);

    const report = await moderation(reporter).createReport({ subject: { type: SubjectType.POST, id: postId }, reasonType: ReasonType.VIOLATION });
    const ticketId = report.report!.ticketId;
    const lease = await claimFor(reviewer, ticketId, "post:en");
    let t0 = performance.now();
    const down = await moderation(reviewer).takeAction({ ticketId, leaseToken: lease, action: ActionType.TAKEDOWN, reason: "violates the rules" });
    expect(await until(seen, (s) => JSON.stringify(s) === JSON.stringify(nowhere), 10_000)).toEqual(nowhere);
    const goneMs = performance.now() - t0;
    // The author does not see it either.
    expect(ConnectError.from(await bed.post(author).getPost({ postId }).catch((e) => e)).code).toBe(Code.NotFound);

    t0 = performance.now();
    await moderation(ids[4]!).takeAction({ ticketId, action: ActionType.REVERSE, reversesActionId: down.action!.actionId, reason: "on second look, fine" });
    expect(await until(seen, (s) => JSON.stringify(s) === JSON.stringify(everywhere), 10_000)).toEqual(everywhere);
    const backMs = performance.now() - t0;
    // The owner heard of the takedown (how to appeal) and its reversal; the reporter, the outcome.
    const owner = await until(() => inbox(author, NotificationKind.MODERATION_ACTION), (l) => l.length === 2, 10_000);
    expect(owner).toEqual([
      "Your post: the earlier decision (it was taken down) was reversed. on second look, fine",
      `Your post was taken down: violates the rules. You can appeal: POST /v1/appeals with action_id ${down.action!.actionId}.`,
    ]);
    expect(await until(() => inbox(reporter, NotificationKind.REPORT_OUTCOME), (l) => l.length === 1, 10_000)).toEqual([
      "We reviewed what you reported and took action. Thank you.",
    ]);
    console.log(`takedown: gone from home feed, user feed, GetPost and search ${goneMs.toFixed(0)} ms after TakeAction; back ${backMs.toFixed(0)} ms after REVERSE`);

    const log = await select<{ kind: string; actor_id: string }>(db, "SELECT kind, actor_id FROM operations WHERE ticket_id = ? ORDER BY op_id", [ticketId]);
    expect(log.map((l) => `${l.kind}:${l.actor_id}`)).toEqual([`report:${reporter}`, `claim:${reviewer}`, `action:${reviewer}`, `reverse:${ids[4]}`]);
  });
});

describe("label", () => {
  test("LABEL_SENSITIVE: the post stays, and PostView carries the label in feeds and GetPost", async () => {
    const [author, follower, reporter, reviewer] = [ids[0]!, ids[1]!, ids[2]!, ids[3]!];
    const postId = (await bed.post(author).createPost({ mediaIds: [await bed.photo(author, 3)], caption: "a label for the harbour at night" })).post!.postId;
    const ticketId = (await moderation(reporter).createReport({ subject: { type: SubjectType.POST, id: postId }, reasonType: ReasonType.SEXUAL })).report!.ticketId;
    const lease = await claimFor(reviewer, ticketId, "post");
    await moderation(reviewer).takeAction({ ticketId, leaseToken: lease, action: ActionType.LABEL_SENSITIVE, reason: "blur it" });
    const item = await until(
      () => bed.feed(follower).getHomeFeed({ pageSize: 50 }).then((r) => r.items.find((i) => i.post?.postId === postId)),
      (i) => i?.post?.labels.includes("sensitive") === true,
      10_000,
    );
    expect(item!.post!.labels).toEqual(["sensitive"]);
    expect((await bed.post(follower).getPost({ postId })).post!.labels).toEqual(["sensitive"]);
  });
});

describe("appeal", () => {
  test("the owner appeals once; the reviewer who acted cannot handle it; another overturns it; the log and the reviewer report tell the story", async () => {
    const [author, reporter, first, second] = [ids[0]!, ids[2]!, ids[3]!, ids[4]!];
    const postId = (await bed.post(author).createPost({ mediaIds: [await bed.photo(author, 1)], caption: "an appeal about the harbour lights" })).post!.postId;
    const ticketId = (await moderation(reporter).createReport({ subject: { type: SubjectType.POST, id: postId }, reasonType: ReasonType.SEXUAL })).report!.ticketId;
    const lease = await claimFor(first, ticketId, "post");
    const down = (await moderation(first).takeAction({ ticketId, leaseToken: lease, action: ActionType.TAKEDOWN, reason: "nudity" })).action!;
    await until(() => bed.post(author).getPost({ postId }).then(() => "seen", () => "gone"), (r) => r === "gone", 10_000);

    const notOwner = await moderation(reporter).createAppeal({ actionId: down.actionId, text: "not mine but still" }).catch((e) => errorReason(e));
    expect(notOwner).toBe("ACTION_NOT_FOUND");
    const appeal = await moderation(author).createAppeal({ actionId: down.actionId, text: "it is a photo of a lighthouse" });
    expect(appeal.ticketId).toBe(ticketId);
    expect(await moderation(author).createAppeal({ actionId: down.actionId, text: "again" }).catch((e) => errorReason(e))).toBe("APPEAL_EXISTS");

    // The reviewer who acted never gets it from the appeals queue, and cannot decide it.
    expect((await moderation(first).claimNextReview({ queue: "appeals" })).ticket).toBeUndefined();
    const same = await moderation(first).takeAction({ ticketId, action: ActionType.REVERSE, reversesActionId: down.actionId }).catch((e) => errorReason(e));
    expect(same).toBe("SAME_REVIEWER");
    const lease2 = await claimFor(second, ticketId, "appeals");
    expect(lease2.length).toBeGreaterThan(10);
    await moderation(second).takeAction({ ticketId, action: ActionType.REVERSE, reversesActionId: down.actionId, reason: "appeal upheld: a lighthouse" });
    await until(() => bed.post(author).getPost({ postId }).then(() => "seen", () => "gone"), (r) => r === "seen", 10_000);

    const ops = await moderation(second).listOperations({ ticketId });
    expect(ops.operations.map((o) => `${o.kind}:${o.actorId}`).reverse()).toEqual([
      `report:${reporter}`,
      `claim:${first}`,
      `action:${first}`,
      `appeal:${author}`,
      `claim:${second}`,
      `reverse:${second}`,
    ]);
    const reportOfFirst = await moderation(second).getReviewerReport({ reviewerId: first });
    expect(reportOfFirst.appealsDecided).toBe(1);
    expect(reportOfFirst.overturnRate).toBe(1);
    expect(reportOfFirst.actions).toBeGreaterThanOrEqual(1);
    expect(reportOfFirst.handledPerHour).toBeCloseTo(reportOfFirst.actions / 24, 6);
    expect(Number(reportOfFirst.medianTimeToActionMs)).toBeGreaterThanOrEqual(0);
  });
});

describe("suspension", () => {
  test("sign-in refused, existing tokens refused at the edge, lifted after its duration", async () => {
    const [target, reporter, reviewer] = [ids[5]!, ids[2]!, ids[3]!];
    const token = await bed.token(members[5]!);
    const me = () => bed.edgeCall("/oasis.graph.v1.GraphService/GetCounts", { userId: String(target) }, token);
    expect((await me()).status).toBe(200);

    const report = await moderation(reporter).createReport({ subject: { type: SubjectType.USER, id: target }, reasonType: ReasonType.SPAM });
    const ticketId = report.report!.ticketId;
    const lease = await claimFor(reviewer, ticketId, "user");
    const t0 = performance.now();
    await moderation(reviewer).takeAction({ ticketId, leaseToken: lease, action: ActionType.SUSPEND_ACCOUNT, reason: "spam", duration: { seconds: 4n } });
    expect((await until(me, (r) => r.status === 401, 10_000)).status).toBe(401);
    const refusedMs = performance.now() - t0;
    const signIn = await bed.identity().createSession({ login: `reed_${members[5]}`, password: "correct horse battery" }).catch((e) => e);
    expect({ code: ConnectError.from(signIn).code, reason: errorReason(signIn) }).toEqual({ code: Code.PermissionDenied, reason: "ACCOUNT_SUSPENDED" });
    // What wallet asks before a tip to this author is posted (authorActive).
    expect(await bed.identity("service").getAccountStatus({ userId: target })).toMatchObject({ exists: true, suspended: true });

    // The timer reverses it when the 4 s are up; sign-in works again.
    const back = await until(
      () => bed.identity().createSession({ login: `reed_${members[5]}`, password: "correct horse battery" }).then(() => "ok", (e) => errorReason(e) ?? "error"),
      (r) => r === "ok",
      20_000,
    );
    expect(back).toBe("ok");
    expect(await bed.identity("service").getAccountStatus({ userId: target })).toMatchObject({ exists: true, suspended: false });
    const log = await select<{ kind: string; actor_id: string }>(db, "SELECT kind, actor_id FROM operations WHERE ticket_id = ? ORDER BY op_id", [ticketId]);
    expect(log.map((l) => `${l.kind}:${l.actor_id}`)).toEqual([`report:${reporter}`, `claim:${reviewer}`, `action:${reviewer}`, "reverse:0"]);
    console.log(`suspension: the account's token refused at the edge ${refusedMs.toFixed(0)} ms after TakeAction`);
  });
});

describe("keyword rules", () => {
  test("admins change the rules at run time; a zh keyword hides a post pending review, an en one raises a comment's priority", async () => {
    const [author, reviewer] = [ids[1]!, ids[4]!];
    expect(await moderation(reviewer).createKeywordRule({ keyword: "广告", effect: RuleEffect.AUTO_HIDE }).catch((e) => errorReason(e))).toBe("NOT_ADMIN");
    const hide = (await moderation(admin).createKeywordRule({ keyword: "广告", effect: RuleEffect.AUTO_HIDE, raisePoints: 50 })).rule!;
    const raise = (await moderation(admin).createKeywordRule({ keyword: "Crypto", effect: RuleEffect.RAISE_PRIORITY, raisePoints: 100 })).rule!;
    expect((await moderation(reviewer).listKeywordRules({})).rules.map((r) => r.keyword)).toEqual(["广告", "Crypto"]);
    // A rule applies to everything made after it (the consumer reloads for newer events).

    const postId = (await bed.post(author).createPost({ mediaIds: [await bed.photo(author, 2)], caption: "春季免费广告位，欢迎联系" })).post!.postId;
    await until(() => bed.post(ids[2]!).getPost({ postId }).then(() => "seen", () => "gone"), (r) => r === "gone", 10_000);
    const [ticket] = await select<{ ticket_id: string; state: number; priority: number }>(db, "SELECT ticket_id, state, priority FROM tickets WHERE subject_type = ? AND subject_id = ?", [SubjectType.POST, postId]);
    expect({ state: ticket!.state, priority: ticket!.priority, language: "zh" }).toEqual({ state: 1, priority: 60, language: "zh" });
    // Pending review: a reviewer claims it from the zh queue and brings the post back.
    const ticketId = BigInt(ticket!.ticket_id);
    const lease = await claimFor(reviewer, ticketId, "post:zh");
    const hidden = await select<{ action_id: string }>(db, "SELECT action_id FROM actions WHERE ticket_id = ? AND action_type = ? AND reviewer_id = 0", [ticketId, ActionType.TAKEDOWN]);
    await moderation(reviewer).takeAction({ ticketId, leaseToken: lease, action: ActionType.REVERSE, reversesActionId: BigInt(hidden[0]!.action_id), reason: "a poem, not an advert" });
    await until(() => bed.post(ids[2]!).getPost({ postId }).then(() => "seen", () => "gone"), (r) => r === "seen", 10_000);

    const comment = (await bed.interaction(ids[2]!).createComment({ postId, text: "buy CRYPTO now" })).comment!;
    const [ct] = await until(
      () => select<{ priority: number; content_type: string }>(db, "SELECT priority, content_type FROM tickets WHERE subject_type = ? AND subject_id = ?", [SubjectType.COMMENT, comment.commentId]),
      (rows) => rows.length === 1,
      10_000,
    );
    expect(ct).toEqual({ priority: 110, content_type: "comment" });

    await moderation(admin).deleteKeywordRule({ ruleId: hide.ruleId });
    await moderation(admin).deleteKeywordRule({ ruleId: raise.ruleId });
    expect((await moderation(reviewer).listKeywordRules({})).rules).toEqual([]);
  });
});

describe("demo", () => {
  test("the demo's moderation step: a moderator with a generated password, and Reed98 members' reports from their home feeds", async () => {
    const demoUsers = demoGraph().users.slice(0, 3);
    expect(demoUsers.some((u) => members.includes(u.n))).toBe(false);
    const demoIds: bigint[] = [];
    for (const u of demoUsers) demoIds.push((await bed.identity().createAccount({ handle: u.handle, email: u.email, password: demoPassword })).account!.userId);
    // The first has an empty home feed (reports nothing); the others follow the author of the posts above.
    for (const id of demoIds.slice(1)) await bed.graph(id).follow({ userId: ids[0]! });
    for (const id of demoIds.slice(1)) await until(() => bed.feed(id).getHomeFeed({ pageSize: 10 }), (r) => r.items.length >= 2, 20_000);
    const adminToken = (await bed.identity().createSession({ login: testAdminHandle, password: "correct horse battery" })).accessToken;
    const state = join(mkdtempSync(join(tmpdir(), "oasis-demo-moderator-")), "moderator.json");
    const seeded = await seedModeration(bed.mesh.url("edge"), adminToken, 2, 2, state);
    expect({ reports: seeded.reports, tickets: seeded.tickets, handle: seeded.handle }).toEqual({ reports: 4, tickets: 2, handle: "moderator" });
    expect(seeded.password?.length).toBe(16);
    // A second run of the demo signs the same moderator in (its password kept in .data/).
    const again = await seedModeration(bed.mesh.url("edge"), adminToken, 2, 2, state);
    expect({ handle: again.handle, password: again.password, tickets: again.tickets }).toEqual({ handle: "moderator", password: seeded.password, tickets: 2 });
    rmSync(state);
    const mod = await bed.identity().createSession({ login: "moderator", password: seeded.password! });
    const claimed = await bed.edgeCall("/oasis.moderation.v1.ModerationService/ClaimNextReview", { queue: "post" }, mod.accessToken);
    expect(claimed.status).toBe(200);
    expect(claimed.json.ticket.reportCount).toBe(2);
  });
});
