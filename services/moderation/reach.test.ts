/**
 * Actions that reach beyond posts, on a real mesh (identity, graph, media, post,
 * interaction, feed, search, moderation, edge): a comment takedown leaves ListComments,
 * the replies shown under its parent and the post's comment count (interaction's counter
 * and the feed's PostView), and REVERSE brings it back; a suspension hides every post of
 * the account from GetPost, home and user feeds, search and the user's post count until
 * it lifts itself; a post takedown leaves the author's post count and refuses likes, and
 * REVERSE counts it and takes likes again. Each waits for a condition with a deadline (until), never a sleep.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorReason } from "#kit/errors.ts";
import { testAdminHandle } from "#kit/testing/mesh.ts";
import { testClient } from "#kit/testing/clients.ts";
import { until } from "#kit/testing/until.ts";
import { ActionType, ReasonType, SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import { ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import { SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import { readEdges } from "../../demo/data.ts";
import { startSocialTestbed, type SocialTestbed } from "../../testbeds/social.ts";

setDefaultTimeout(60_000);

let bed: SocialTestbed;
const searchDir = mkdtempSync(join(tmpdir(), "oasis-moderation-reach-"));
const members = [...new Set(readEdges().flat())].slice(320, 328);
let ids: bigint[] = [];
const moderation = (as: bigint) => testClient(ModerationService, bed.mesh.url("moderation"), as);
const search = (as: bigint) => testClient(SearchService, bed.mesh.url("search"), as);

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "interaction", "feed", "search", "moderation"], {
    env: { OASIS_SEARCH_DATA_DIR: searchDir, OASIS_MEILI_URL: "" },
  });
  ids = await bed.users(members);
  const admin = (await bed.identity().createAccount({ handle: testAdminHandle, email: "admin@reed.example", password: "correct horse battery" })).account!.userId;
  await bed.identity(admin).grantRole({ handle: `reed_${members[6]}`, role: "moderator" });
  await bed.identity(admin).grantRole({ handle: `reed_${members[7]}`, role: "moderator" });
}, 180_000);

afterAll(async () => {
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

const same = <T>(want: T) => (got: T) => JSON.stringify(got) === JSON.stringify(want);

describe("comment takedown", () => {
  test("gone from ListComments, its parent's replies and the post's comment count; REVERSE brings it back", async () => {
    const [author, commenter, reporter, follower, reviewer, second] = [ids[0]!, ids[1]!, ids[2]!, ids[3]!, ids[6]!, ids[7]!];
    await bed.graph(follower).follow({ userId: author });
    const postId = (await bed.post(author).createPost({ mediaIds: [await bed.photo(author, 0)], caption: "evening at the pier" })).post!.postId;
    const top = (await bed.interaction(author).createComment({ postId, text: "the light was golden" })).comment!;
    const reply = (await bed.interaction(commenter).createComment({ postId, parentCommentId: top.commentId, text: "a rude reply about the pier" })).comment!;
    const other = (await bed.interaction(commenter).createComment({ postId, text: "lovely colours" })).comment!;

    const seen = async () => {
      const [list, thread, counts, feed] = await Promise.all([
        bed.interaction(reporter).listComments({ postId, pageSize: 50 }),
        bed.interaction(reporter).listComments({ postId, parentCommentId: top.commentId, pageSize: 50 }),
        bed.interaction(reporter).batchGetCounts({ postIds: [postId] }),
        bed.feed(follower).getHomeFeed({ pageSize: 50 }),
      ]);
      const head = list.comments.find((c) => c.commentId === top.commentId);
      return {
        top: list.comments.map((c) => String(c.commentId)),
        replies: head?.replies.map((r) => String(r.commentId)) ?? [],
        replyCount: head?.replyCount ?? -1,
        thread: thread.comments.map((c) => String(c.commentId)),
        count: Number(counts.counts[0]?.comments ?? -1),
        feedCount: Number(feed.items.find((i) => i.post?.postId === postId)?.counts?.comments ?? -1),
      };
    };
    const shown = {
      top: [String(top.commentId), String(other.commentId)],
      replies: [String(reply.commentId)],
      replyCount: 1,
      thread: [String(reply.commentId)],
      count: 3,
      feedCount: 3,
    };
    const hidden = { ...shown, replies: [] as string[], replyCount: 0, thread: [] as string[], count: 2, feedCount: 2 };
    expect(await until(seen, same(shown), 20_000)).toEqual(shown);

    const report = await moderation(reporter).createReport({
      subject: { type: SubjectType.COMMENT, id: reply.commentId, parentId: postId },
      reasonType: ReasonType.RUDE,
    });
    const ticketId = report.report!.ticketId;
    const lease = await claimFor(reviewer, ticketId, "comment");
    const down = await moderation(reviewer).takeAction({ ticketId, leaseToken: lease, action: ActionType.TAKEDOWN, reason: "harassment" });
    expect(await until(seen, same(hidden), 10_000)).toEqual(hidden);
    // Nobody can answer a taken-down comment: it is not found.
    const answer = await bed.interaction(author).createComment({ postId, parentCommentId: reply.commentId, text: "what did you say?" }).catch((e) => errorReason(e));
    expect(answer).toBe("COMMENT_NOT_FOUND");

    await moderation(second).takeAction({ ticketId, action: ActionType.REVERSE, reversesActionId: down.action!.actionId, reason: "banter, not harassment" });
    expect(await until(seen, same(shown), 10_000)).toEqual(shown);
  });
});

describe("suspension hides the account's posts", () => {
  test("gone from GetPost, home and user feeds, search and the post count while suspended; back when it lifts", async () => {
    const [target, follower, reporter, reviewer] = [ids[4]!, ids[5]!, ids[2]!, ids[6]!];
    await bed.graph(follower).follow({ userId: target });
    const captions = ["suspension quayside morning fog", "suspension quayside evening gulls"];
    const postIds: bigint[] = [];
    for (const [i, caption] of captions.entries()) postIds.push((await bed.post(target).createPost({ mediaIds: [await bed.photo(target, i + 1)], caption })).post!.postId);

    const present = async (postId: bigint) => {
      const [home, user, got, found] = await Promise.all([
        bed.feed(follower).getHomeFeed({ pageSize: 50 }),
        bed.feed(follower).getUserFeed({ userId: target, pageSize: 50 }),
        bed.post(follower).getPost({ postId }).then(
          () => true,
          (err) => (ConnectError.from(err).code === Code.NotFound ? false : Promise.reject(err)),
        ),
        search(follower).searchPosts({ query: "suspension quayside" }),
      ]);
      return {
        home: home.items.some((i) => i.post?.postId === postId),
        user: user.items.some((i) => i.post?.postId === postId),
        get: got,
        search: found.posts.some((p) => p.post?.postId === postId),
      };
    };
    const seen = async () => ({
      posts: await Promise.all(postIds.map(present)),
      count: Number((await bed.post(follower).listUserPosts({ userId: target })).totalSize),
    });
    const everywhere = { home: true, user: true, get: true, search: true };
    const nowhere = { home: false, user: false, get: false, search: false };
    const shown = { posts: [everywhere, everywhere], count: 2 };
    const hidden = { posts: [nowhere, nowhere], count: 0 };
    expect(await until(seen, same(shown), 20_000)).toEqual(shown);

    const ticketId = (await moderation(reporter).createReport({ subject: { type: SubjectType.USER, id: target }, reasonType: ReasonType.SPAM })).report!.ticketId;
    const lease = await claimFor(reviewer, ticketId, "user");
    await moderation(reviewer).takeAction({ ticketId, leaseToken: lease, action: ActionType.SUSPEND_ACCOUNT, reason: "spam", duration: { seconds: 6n } });
    expect(await until(seen, same(hidden), 10_000)).toEqual(hidden);
    // Services reading as themselves still get the posts, flagged.
    const raw = await bed.post("service").batchGetPosts({ postIds });
    expect(raw.posts.map((p) => p.authorSuspended)).toEqual([true, true]);

    // The moderation job reverses it when the 6 s are up: everything is back.
    expect(await until(seen, same(shown), 30_000)).toEqual(shown);
    expect((await bed.post("service").batchGetPosts({ postIds })).posts.map((p) => p.authorSuspended)).toEqual([false, false]);
  });
});

describe("post takedown and the user's post count", () => {
  test("the author's post count drops the taken-down post and counts it again on REVERSE", async () => {
    const [author, viewer, reporter, reviewer, second] = [ids[1]!, ids[3]!, ids[2]!, ids[6]!, ids[7]!];
    const count = () => bed.post(viewer).listUserPosts({ userId: author }).then((r) => Number(r.totalSize));
    const postIds: bigint[] = [];
    for (const i of [0, 1, 2]) postIds.push((await bed.post(author).createPost({ mediaIds: [await bed.photo(author, i)], caption: `count me ${i}` })).post!.postId);
    expect(await count()).toBe(3);

    const ticketId = (await moderation(reporter).createReport({ subject: { type: SubjectType.POST, id: postIds[1]! }, reasonType: ReasonType.VIOLATION })).report!.ticketId;
    const lease = await claimFor(reviewer, ticketId, "post");
    // A like reads the post from post's cache (interaction's OASIS_INTERACTION_POST_CACHE):
    // liked once before the takedown, so the entry is there; once the takedown is applied,
    // likes are refused, and after REVERSE they pass again.
    const likeOutcome = (as: bigint) => bed.interaction(as).likePost({ postId: postIds[1]! }).then(() => "liked", (err) => errorReason(err));
    expect(await likeOutcome(viewer)).toBe("liked");
    const down = await moderation(reviewer).takeAction({ ticketId, leaseToken: lease, action: ActionType.TAKEDOWN, reason: "violates the rules" });
    expect(await until(count, (n) => n === 2, 10_000)).toBe(2);
    expect(await until(() => likeOutcome(reporter), (o) => o === "POST_NOT_FOUND", 10_000)).toBe("POST_NOT_FOUND");
    // The author's own view of the count agrees.
    expect(Number((await bed.post(author).listUserPosts({ userId: author })).totalSize)).toBe(2);

    await moderation(second).takeAction({ ticketId, action: ActionType.REVERSE, reversesActionId: down.action!.actionId, reason: "fine after all" });
    expect(await until(count, (n) => n === 3, 10_000)).toBe(3);
    expect(await until(() => likeOutcome(reporter), (o) => o === "liked", 10_000)).toBe("liked");
    // A deletion by the author counts too.
    await bed.post(author).deletePost({ postId: postIds[0]! });
    expect(await count()).toBe(2);
  });
});
