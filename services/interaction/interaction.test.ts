/**
 * InteractionService on real processes: likes and comments (with the post service
 * deciding who may interact), one level of replies, deletes by author or post owner,
 * the comment length limit in grapheme clusters, refer counts from post events, 64
 * concurrent likers against a MySQL recount, and ReconcileCounts fixing counters that
 * drifted in Redis (the periodic sweep: reconcile.test.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code } from "@connectrpc/connect";
import { Visibility } from "#gen/oasis/post/v1/post_pb.ts";
import { errorReason, violatedFields } from "#kit/errors.ts";
import { readEdges, readFortunes } from "../../demo/data.ts";
import { startSocialTestbed, type SocialTestbed } from "../../testbeds/social.ts";
import { openInteractionStores, type InteractionStores } from "../../testbeds/interaction.ts";
import { failure } from "#kit/testing/errors.ts";
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { PostDeletedSchema, PostReferredSchema } from "#gen/oasis/post/v1/events_pb.ts";
import { connectBus, eventSubject, natsHeaders, streamName, type Bus } from "#kit/bus.ts";
import { createLogger } from "#kit/logger.ts";
import { eventHeaders } from "#kit/outbox.ts";
import { until } from "#kit/testing/until.ts";

let bed: SocialTestbed;
let bus: Bus;
let stores: InteractionStores;
let users: bigint[];
const members = [...new Set(readEdges().flat())].slice(500, 570);
const quotes = readFortunes("en-love.fortune");

async function newPost(author: bigint, i: number, visibility = Visibility.PUBLIC): Promise<bigint> {
  return (await bed.post(author).createPost({ mediaIds: [await bed.photo(author, i)], caption: quotes[i % quotes.length]!.slice(0, 500), visibility })).post!.postId;
}

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "interaction"]);
  users = await bed.users(members);
  stores = openInteractionStores(bed.mesh.namespace);
  bus = await connectBus({ url: process.env.OASIS_NATS_URL ?? "nats://127.0.0.1:4222", namespace: bed.mesh.namespace, name: "interaction-test", log: createLogger("interaction-test", "silent") });
});
afterAll(async () => {
  await bus?.close();
  await stores?.close();
  await bed?.stop();
});

describe("likes", () => {
  test("idempotent likes and unlikes, counts and viewer state", async () => {
    const [a, b, c] = users as [bigint, bigint, bigint];
    const p = await newPost(a, 1);
    expect((await bed.interaction(b).likePost({ postId: p })).counts?.likes).toBe(1n);
    expect((await bed.interaction(b).likePost({ postId: p })).counts?.likes).toBe(1n);
    await bed.interaction(c).likePost({ postId: p });
    const counts = await bed.interaction().batchGetCounts({ postIds: [p] });
    expect(counts.counts[0]!.likes).toBe(2n);
    const states = await bed.interaction(b).batchGetViewerState({ postIds: [p] });
    expect(states.states[0]!.liked).toBe(true);
    expect((await bed.interaction(b).unlikePost({ postId: p })).counts?.likes).toBe(1n);
    expect((await bed.interaction(b).unlikePost({ postId: p })).counts?.likes).toBe(1n);
    expect((await bed.interaction(b).batchGetViewerState({ postIds: [p] })).states[0]!.liked).toBe(false);
    const likers = await bed.interaction().listLikers({ postId: p });
    expect(likers.likers.map((l) => l.userId)).toEqual([c]);
  });

  test("nobody interacts with a post they cannot see; blocked users cannot like or comment", async () => {
    const [a, , , d, e] = users as [bigint, bigint, bigint, bigint, bigint];
    const secret = await newPost(a, 2, Visibility.FOLLOWERS);
    expect(errorReason(await failure(bed.interaction(d).likePost({ postId: secret })))).toBe("POST_NOT_FOUND");
    expect(errorReason(await failure(bed.interaction(d).createComment({ postId: secret, text: "hi" })))).toBe("POST_NOT_FOUND");
    const open = await newPost(a, 3);
    // Liked once first, so the author's blocks are cached where interaction reads them
    // (OASIS_INTERACTION_GRAPH_SETS): a block must still refuse the next like, either way.
    for (const u of [d, e]) {
      await bed.interaction(u).likePost({ postId: open });
      await bed.interaction(u).unlikePost({ postId: open });
    }
    await bed.graph(a).block({ userId: e });
    await bed.graph(d).block({ userId: a });
    expect(errorReason(await failure(bed.interaction(d).likePost({ postId: open })))).toBe("POST_NOT_FOUND");
    expect(errorReason(await failure(bed.interaction(e).likePost({ postId: open })))).toBe("POST_NOT_FOUND");
    expect(errorReason(await failure(bed.interaction(e).createComment({ postId: open, text: "hi" })))).toBe("POST_NOT_FOUND");
    expect((await bed.interaction().batchGetCounts({ postIds: [secret, open] })).counts.map((c) => c.likes)).toEqual([0n, 0n]);
  });

  test("a post deleted just before cannot be liked or commented, though a like had read it from post's cache", async () => {
    const [a, b, c] = users as [bigint, bigint, bigint];
    const p = await newPost(a, 4);
    // The first like reads the post through post, which caches it; the second, from that
    // cache (OASIS_INTERACTION_POST_CACHE). The delete must still refuse the next like at once.
    await bed.interaction(b).likePost({ postId: p });
    await bed.interaction(c).likePost({ postId: p });
    await bed.interaction(c).unlikePost({ postId: p });
    await bed.post(a).deletePost({ postId: p });
    expect(errorReason(await failure(bed.interaction(c).likePost({ postId: p })))).toBe("POST_NOT_FOUND");
    expect(errorReason(await failure(bed.interaction(c).createComment({ postId: p, text: "too late" })))).toBe("POST_NOT_FOUND");
    expect(errorReason(await failure(bed.interaction(a).likePost({ postId: p })))).toBe("POST_NOT_FOUND");
  });
});

describe("comments", () => {
  test("one level of replies, oldest first, with reply counts; delete by author or post owner", async () => {
    const [a, b, c] = users.slice(5) as [bigint, bigint, bigint];
    const p = await newPost(a, 4);
    const top = (await bed.interaction(b).createComment({ postId: p, text: quotes[0]!.slice(0, 900), requestId: "c-1" })).comment!;
    expect((await bed.interaction(b).createComment({ postId: p, text: quotes[0]!.slice(0, 900), requestId: "c-1" })).comment!.commentId).toBe(top.commentId);
    const reply = (await bed.interaction(c).createComment({ postId: p, text: `@reed_${members[5]} agreed`, parentCommentId: top.commentId })).comment!;
    expect(reply.mentionUserIds).toEqual([a]);
    const nested = (await bed.interaction(a).createComment({ postId: p, text: "thanks", parentCommentId: reply.commentId })).comment!;
    expect(nested.parentCommentId).toBe(top.commentId); // a reply to a reply joins the thread
    const second = (await bed.interaction(c).createComment({ postId: p, text: "second" })).comment!;
    const list = await bed.interaction().listComments({ postId: p });
    expect(list.comments.map((x) => x.commentId)).toEqual([top.commentId, second.commentId]);
    expect(list.comments[0]!.replies.map((x) => x.commentId)).toEqual([reply.commentId, nested.commentId]);
    expect(list.comments[0]!.replyCount).toBe(2);
    expect(errorReason(await failure(bed.interaction(c).deleteComment({ commentId: top.commentId })))).toBe("NOT_ALLOWED");
    await bed.interaction(a).deleteComment({ commentId: top.commentId }); // the post owner
    await bed.interaction(c).deleteComment({ commentId: second.commentId }); // the author
    expect((await bed.interaction().batchGetCounts({ postIds: [p] })).counts[0]!.comments).toBe(2n);
    expect(await stores.recount(p)).toMatchObject({ comments: 2n });
    expect(errorReason(await failure(bed.interaction(b).createComment({ postId: p, text: "x".repeat(1001) })))).toBe("TEXT_TOO_LONG");
    // Comments of a deleted post are hidden with it.
    await bed.post(a).deletePost({ postId: p });
    expect(errorReason(await failure(bed.interaction(b).listComments({ postId: p })))).toBe("POST_NOT_FOUND");
  });

  test("a comment is up to 1,000 characters as people count them: 1,000 family emoji pass, 1,001 do not", async () => {
    const [a, b] = users.slice(15) as [bigint, bigint];
    const p = await newPost(a, 8);
    const family = "👨‍👩‍👧‍👦"; // one character, 7 code points, 25 bytes
    const text = family.repeat(1000);
    const ok = (await bed.interaction(b).createComment({ postId: p, text })).comment!;
    expect(ok.text).toBe(text);
    const stored = (await bed.interaction().listComments({ postId: p })).comments.find((c) => c.commentId === ok.commentId);
    expect(stored?.text).toBe(text);
    const err = await failure(bed.interaction(b).createComment({ postId: p, text: text + family }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err)).toEqual(["text"]);
    expect(errorReason(err)).toBe("TEXT_TOO_LONG");
    expect((await bed.interaction().batchGetCounts({ postIds: [p] })).counts[0]!.comments).toBe(1n);
  });

  test("refers are counted from post events", async () => {
    const [a, b, c] = users.slice(10) as [bigint, bigint, bigint];
    const p = await newPost(a, 5);
    const r1 = (await bed.post(b).createPost({ referPostId: p, caption: "look" })).post!.postId;
    await bed.post(c).createPost({ referPostId: p, caption: "wow" });
    for (let i = 0; i < 100; i++) {
      if ((await bed.interaction().batchGetCounts({ postIds: [p] })).counts[0]!.refers === 2n) break;
      await Bun.sleep(50);
    }
    expect((await bed.interaction().batchGetCounts({ postIds: [p] })).counts[0]!.refers).toBe(2n);
    expect((await bed.interaction(b).batchGetViewerState({ postIds: [p] })).states[0]!.referred).toBe(true);
    await bed.post(b).deletePost({ postId: r1 });
    for (let i = 0; i < 100; i++) {
      if ((await bed.interaction().batchGetCounts({ postIds: [p] })).counts[0]!.refers === 1n) break;
      await Bun.sleep(50);
    }
    expect((await bed.interaction().batchGetCounts({ postIds: [p] })).counts[0]!.refers).toBe(1n);
  });
});

/** Publishes an event as post's outbox relay would (subject, headers, Nats-Msg-Id = `eventId`); its stream sequence. */
async function publishEvent<D extends DescMessage>(schema: D, event: MessageInitShape<D>, eventId: bigint): Promise<number> {
  const h = natsHeaders();
  h.set(eventHeaders.type, schema.typeName);
  h.set(eventHeaders.occurredAt, String(Date.now()));
  return (await bus.js.publish(eventSubject(bed.mesh.namespace, schema), toBinary(schema, create(schema, event)), { msgID: String(eventId), headers: h })).seq;
}

/** Waits until interaction's consumer `name` of post's stream has acknowledged everything up to `seq`. */
async function handled(name: string, seq: number): Promise<void> {
  const ns = bed.mesh.namespace;
  const floor = () => bus.jsm.consumers.info(streamName(ns, "post"), `${ns}-${name}`).then((i) => i.ack_floor.stream_seq);
  expect(await until(floor, (f) => f >= seq)).toBeGreaterThanOrEqual(seq);
}

describe("refers from post_referred, deletions from post_deleted", () => {
  test("no post_created reaches interaction: its post consumers filter on post_deleted and post_referred", async () => {
    const ns = bed.mesh.namespace;
    const filters: string[] = [];
    for await (const c of bus.jsm.consumers.list(streamName(ns, "post"))) if (c.name.startsWith(`${ns}-interaction-`)) filters.push(c.config.filter_subject ?? "");
    expect(filters.sort()).toEqual([eventSubject(ns, PostDeletedSchema), eventSubject(ns, PostReferredSchema)].sort());
  });

  test("a refer-to's deletion applied before its creation leaves no refer behind", async () => {
    const [a, b, c] = users.slice(30) as [bigint, bigint, bigint];
    const p = await newPost(a, 8);
    // Post ids no service made; event ids far below the outboxes' snowflakes.
    const gone = 4_000_000_001n;
    const kept = 4_000_000_002n;
    await handled("interaction-posts", await publishEvent(PostDeletedSchema, { postId: gone, authorId: b, referPostId: p }, 2_001n));
    await publishEvent(PostReferredSchema, { post: { postId: gone, authorId: b, referPostId: p } }, 2_002n);
    await handled("interaction-refers", await publishEvent(PostReferredSchema, { post: { postId: kept, authorId: c, referPostId: p } }, 2_003n));
    expect((await bed.interaction().batchGetCounts({ postIds: [p] })).counts[0]!.refers).toBe(1n);
    expect((await bed.interaction(b).batchGetViewerState({ postIds: [p] })).states[0]!.referred).toBe(false);
    expect((await bed.interaction(c).batchGetViewerState({ postIds: [p] })).states[0]!.referred).toBe(true);
  });
});

describe("counters under load", () => {
  test("64 concurrent clients liking and unliking one post: the count equals the recount", async () => {
    const p = await newPost(users[20]!, 6);
    const clients = users.slice(0, 64);
    await Promise.all(
      clients.map(async (u, i) => {
        for (let round = 0; round < 12; round++) {
          if ((round + i) % 3 === 2) await bed.interaction(u).unlikePost({ postId: p });
          else await bed.interaction(u).likePost({ postId: p });
        }
      }),
    );
    const served = (await bed.interaction().batchGetCounts({ postIds: [p] })).counts[0]!;
    expect(served.likes).toBe((await stores.recount(p)).likes);
  });

  test("counters that drifted in Redis are fixed by the reconcile job", async () => {
    const p = await newPost(users[21]!, 7);
    for (const u of users.slice(30, 40)) await bed.interaction(u).likePost({ postId: p });
    // Simulate drift: overwrite the likes in Redis behind the service's back.
    const key = stores.key(`pc:${p}`);
    const [version, , comments, refers] = (await stores.redis.get(key))!.split(":");
    await stores.redis.set(key, `${version}:9999:${comments}:${refers}`);
    expect((await bed.interaction().batchGetCounts({ postIds: [p] })).counts[0]!.likes).toBe(9999n);
    const r = await bed.interaction("service").reconcileCounts({ postIds: [p] });
    expect(r.fixed).toBe(1n);
    expect((await bed.interaction().batchGetCounts({ postIds: [p] })).counts[0]!.likes).toBe(10n);
    expect((await bed.interaction("service").reconcileCounts({ postIds: [p] })).fixed).toBe(0n);
  });
});
