/**
 * Likes: the like row, the post's counter and the post_liked/post_unliked event change
 * in one transaction, only when the row really changed; Redis gets the committed
 * counters afterwards and the liker's viewer state is dropped.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { PostLikedSchema, PostUnlikedSchema } from "#gen/oasis/interaction/v1/events_pb.ts";
import { Pipeline, type Redis } from "#kit/redis.ts";
import type { InteractionContext } from "../context.ts";
import type { Counters } from "../counters.ts";
import type { ViewerStates } from "../viewer-state.ts";
import type { Counts } from "./model.ts";
import { checkedPost } from "./posts.ts";

/**
 * After the commit: the committed counters to Redis and the liker's viewer state dropped,
 * in one round trip (kit/redis.ts Pipeline). A failed command is ignored as before (the
 * reconcile job repairs a counter; the viewer state's version fences stale fills);
 * losing Redis altogether rejects.
 */
async function afterCountChange(ctx: InteractionContext, postId: bigint, counts: Counts | undefined, user: bigint): Promise<void> {
  await afterLikes({ redis: ctx.rt.redis, counters: ctx.counters, viewerStates: ctx.viewerStates }, [{ postId, userId: user, counts }]);
}

/**
 * afterCountChange for several committed writes in one pipeline (the group commit's
 * batch, OASIS_INTERACTION_GROUP_REDIS_ONCE): each post's counters published once (a
 * batch's likes of one post all answer with the same counters) and every writer's viewer
 * state dropped, in order.
 */
export async function afterLikes(
  stores: { readonly redis: Redis; readonly counters: Counters; readonly viewerStates: ViewerStates },
  likes: ReadonlyArray<{ readonly postId: bigint; readonly userId: bigint; readonly counts: Counts | undefined }>,
): Promise<void> {
  const pipe = new Pipeline(stores.redis);
  const published = new Set<bigint>();
  for (const l of likes) {
    if (l.counts && !published.has(l.postId)) {
      published.add(l.postId);
      stores.counters.publishIn(pipe, l.postId, l.counts);
    }
    stores.viewerStates.invalidateIn(pipe, l.userId);
  }
  await pipe.exec();
}

/** The post's counters now (after a write that changed nothing, from the counter cache). */
async function currentCounts(ctx: InteractionContext, postId: bigint, changed: Counts | undefined): Promise<Omit<Counts, "v">> {
  return changed ?? (await ctx.counters.get([postId])).get(postId)!;
}

/**
 * `userId` likes the post (idempotent). Errors: those of visiblePost. Returns the post id
 * and its counters. post_liked carries whether the author mutes the liker when the
 * visibility check read it (author_muting), so notification need not ask graph.
 */
export async function like(ctx: InteractionContext, userId: bigint, postId: bigint): Promise<{ postId: bigint; counts: Omit<Counts, "v"> }> {
  const { rt, store } = ctx;
  const { post, authorMuting } = await checkedPost(ctx, postId);
  const event = { postId: post.postId, postAuthorId: post.authorId, userId, ...(authorMuting !== undefined && { authorMuting }) };
  // One round trip (store.likeBatched); OASIS_INTERACTION_BATCHED_WRITES=0 takes the
  // statement-by-statement path (bench/interaction.ts compares them).
  const counts = rt.config.batchedWrites && rt.config.groupCommit > 1
    ? // Group commit: with the likes of concurrent calls in one transaction (store.likeGroupPlan); the event built here, in this call's context.
      await groupLike(ctx, post.postId, userId, event)
    : rt.config.batchedWrites
    ? await rt.batchTx((tx) =>
        store.likeBatched(tx, post.postId, userId, rt.ids.next(), rt.outbox.statement(PostLikedSchema, event, "@oasis_created = 1")),
      )
    : await rt.tx(async (tx) => {
        if (!(await store.insertLike(tx, post.postId, userId, rt.ids.next()))) return undefined;
        const c = await store.bumpCount(tx, post.postId, "likes", 1);
        await rt.outbox.add(tx, PostLikedSchema, event);
        return c;
      });
  // The group commit did the Redis work for its whole batch (OASIS_INTERACTION_GROUP_REDIS_ONCE).
  if (!(rt.config.batchedWrites && rt.config.groupCommit > 1 && rt.config.groupRedisOnce)) await afterCountChange(ctx, post.postId, counts, userId);
  return { postId: post.postId, counts: await currentCounts(ctx, post.postId, counts) };
}

/** The like through the group commit (ctx.likes), its event built here, in the call's context. */
function groupLike(ctx: InteractionContext, postId: bigint, userId: bigint, event: MessageInitShape<typeof PostLikedSchema>): Promise<Counts | undefined> {
  const { rt } = ctx;
  const id = rt.ids.next();
  // With OASIS_INTERACTION_GROUP_ROWS the batch inserts its likes in one statement, so a like's event keys on its own row.
  const when = rt.config.groupRows ? { sql: "EXISTS(SELECT 1 FROM likes WHERE post_id = ? AND user_id = ? AND id = ?)", params: [postId, userId, id] } : "@oasis_created = 1";
  return ctx.likes.add({ postId, userId, id, event: rt.outbox.conditional(PostLikedSchema, [event], when) });
}

/** `userId` no longer likes the post (idempotent; no visibility check: anyone may take a like back). */
export async function unlike(ctx: InteractionContext, userId: bigint, postId: bigint): Promise<Omit<Counts, "v">> {
  const { rt, store } = ctx;
  const counts = await rt.tx(async (tx) => {
    if (!(await store.deleteLike(tx, postId, userId))) return undefined;
    const c = await store.bumpCount(tx, postId, "likes", -1);
    await rt.outbox.add(tx, PostUnlikedSchema, { postId, postAuthorId: await store.postAuthor(tx, postId), userId });
    return c;
  });
  await afterCountChange(ctx, postId, counts, userId);
  return currentCounts(ctx, postId, counts);
}
