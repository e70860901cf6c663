/**
 * The consumers that keep the read model (read-model.ts) up to date, one per domain,
 * each handling its events in stream order (concurrency 1), so a post_updated never lands
 * before its post_created. Every handler is idempotent: it writes the state the event
 * carries, or drops a key that the next read reloads.
 */
import { settleAll } from "#kit/parallel.ts";
import { on, overlappingBatch, type ConsumerBatch, type EventHandler } from "#kit/consumer.ts";
import { AccountCreatedSchema, ProfileUpdatedSchema } from "#gen/oasis/identity/v1/events_pb.ts";
import { CommentCreatedSchema, CommentDeletedSchema, CommentModeratedSchema, PostLikedSchema, PostUnlikedSchema } from "#gen/oasis/interaction/v1/events_pb.ts";
import { PostCreatedSchema, PostDeletedSchema, PostUpdatedSchema } from "#gen/oasis/post/v1/events_pb.ts";
import { BlockCreatedSchema, BlockRemovedSchema, FollowCreatedSchema, FollowRemovedSchema, FollowRequestedSchema, MuteCreatedSchema, MuteRemovedSchema } from "#gen/oasis/graph/v1/events_pb.ts";
import type { FeedContext } from "./context.ts";
import type { ReadModel } from "./read-model.ts";
import { storedPostFromEvent } from "./page-path/pieces.ts";
import { decodePostCreatedHead } from "../../shared-rules/post-created-head.ts";

/**
 * Consumers for post, identity and (when the mesh has it) interaction events;
 * `oneTripLikes` is OASIS_FEED_ONE_TRIP_LIKES (read-model.ts likeChanged), `oneTripCreate`
 * OASIS_FEED_ONE_TRIP_CREATE (post_created seeds the post as the fan-out does, one round
 * trip with the event's own bytes and only the post's ids decoded, instead of putPost's
 * three writes of the decoded and encoded again post). `createSeed` false
 * (OASIS_FEED_RM_CREATE_SEED=0): a post_created without a refer-to writes nothing here,
 * since the fan-out (fanout.ts) seeds every new post before it pushes it anywhere, with
 * the same script (a second seed finds the version key and writes nothing); the page
 * path reads a post only from timelines, and a read that finds no post loads it from post
 * under the read model's fence (kit/cache.ts), as before. `interactionBatch`
 * (OASIS_FEED_INTERACTION_BATCH, 0: one event at a time) makes the interaction consumer
 * take the events that arrive together as batches of up to that many, their handlers
 * started together in stream order (kit/consumer.ts overlappingBatch): every handler
 * there writes what its event says or drops a key, each like's one pipeline sent in
 * stream order, so a batch's writes leave in one round trip. `postBatch`
 * (OASIS_FEED_RM_POST_BATCH, 0: one event at a time) makes the post consumer take the
 * events that arrive together as batches of up to that many, applied one after another
 * in stream order (every event a barrier of overlappingBatch, so a post_updated still
 * never passes its post_created) and acknowledged together. `withPost` false
 * (OASIS_FEED_POST_MERGED, the default): no post consumer here, the fan-out's consumer
 * runs readModelPostHandlers (post-events.ts). `likesOnePipeline`
 * (OASIS_FEED_LIKES_ONE_PIPELINE, with `oneTripLikes` and `interactionBatch`): a batch's
 * likes and unlikes go in one Redis pipeline (likesBatch) instead of one pipeline each.
 */
export function readModelConsumers(rm: ReadModel, withInteraction: boolean, oneTripLikes = true, oneTripCreate = true, createSeed = true, interactionBatch = 0, postBatch = 0, withPost = true, likesOnePipeline = true) {
  const postHandlers = readModelPostHandlers(rm, oneTripCreate, createSeed);
  const consumers: Array<{ name: string; handlers: readonly EventHandler<any>[]; batch?: ConsumerBatch; deliver?: "new" }> = [
    {
      name: "feed-read-model-identity",
      handlers: [on(AccountCreatedSchema, async (e) => rm.putProfile(e.profile!)), on(ProfileUpdatedSchema, async (e) => rm.putProfile(e.profile!))],
    },
  ];
  // Without `withPost` (OASIS_FEED_POST_MERGED, post-events.ts) the fan-out's consumer runs
  // these handlers. With it, the consumer starts at new events when its durable is made:
  // the merged consumer (the default) applied the events before that.
  if (withPost) consumers.unshift({ name: "feed-read-model-post", handlers: postHandlers, deliver: "new", ...(postBatch > 0 && { batch: overlappingBatch(postHandlers, postBatch, () => false) }) });
  if (withInteraction) {
    const handlers: EventHandler<any>[] = [
      on(PostLikedSchema, async (e) => {
        if (oneTripLikes) return rm.likeChanged(e.postId, e.userId, true);
        await rm.liked(e.postId, e.userId, true);
        await rm.touched(e.postId, e.userId);
      }),
      on(PostUnlikedSchema, async (e) => {
        if (oneTripLikes) return rm.likeChanged(e.postId, e.userId, false);
        await rm.liked(e.postId, e.userId, false);
        await rm.touched(e.postId, e.userId);
      }),
      on(CommentCreatedSchema, async (e) => rm.touched(e.comment!.postId)),
      on(CommentDeletedSchema, async (e) => rm.touched(e.postId)),
      on(CommentModeratedSchema, async (e) => rm.touched(e.postId)),
    ];
    const batch = interactionBatch <= 0 ? undefined : likesOnePipeline && oneTripLikes ? likesBatch(rm, handlers, interactionBatch) : overlappingBatch(handlers, interactionBatch);
    consumers.push({ name: "feed-read-model-interaction", handlers, ...(batch && { batch }) });
  }
  return consumers;
}

/**
 * The interaction consumer's batch with OASIS_FEED_LIKES_ONE_PIPELINE: a batch's
 * post_liked and post_unliked go to Redis in one pipeline (ReadModel.likesChanged, in
 * stream order), where overlappingBatch sent one pipeline per like; the batch's other
 * events (comments: fences only, which commute with a like's writes) start alongside
 * through their own handlers, as overlappingBatch starts them. Fails, after everything
 * started has settled, with the first error (the kit then handles each event alone).
 */
function likesBatch(rm: ReadModel, handlers: readonly EventHandler<any>[], max: number): ConsumerBatch {
  const others = overlappingBatch(handlers, max);
  return {
    max,
    async handle(events) {
      const likes: Array<{ postId: bigint; user: bigint; liked: boolean }> = [];
      const rest = events.filter((e) => {
        if (e.schema !== PostLikedSchema && e.schema !== PostUnlikedSchema) return true;
        const like = e.event as { postId: bigint; userId: bigint };
        likes.push({ postId: like.postId, user: like.userId, liked: e.schema === PostLikedSchema });
        return false;
      });
      await settleAll([rm.likesChanged(likes), others.handle(rest)]);
    },
  };
}

/**
 * The read model's handlers of post's events (post_created, post_updated, post_deleted),
 * for its own consumer or the fan-out's (post-events.ts); `oneTripCreate` and
 * `createSeed` as for readModelConsumers. They need a post's events in stream order.
 */
export function readModelPostHandlers(rm: ReadModel, oneTripCreate = true, createSeed = true): EventHandler<any>[] {
  return [
    on(PostCreatedSchema, async (e, meta) => {
      // The fan-out's seed may have written it already (then this writes nothing); a
      // later event's write (a like's counter fence) is never overwritten either.
      if (!oneTripCreate) await rm.putPost(e.post!, true);
      else if (createSeed || e.post!.referPostId !== 0n) await rm.seedNewPost(e.post!, storedPostFromEvent(e.post!, meta.data));
      // A refer-to adds to the referred post's refers and to its author's state.
      if (e.post!.referPostId !== 0n) {
        await rm.referred(e.post!.referPostId, e.post!.authorId, e.post!.postId, true);
        await rm.referTouched(e.post!.referPostId, e.post!.authorId);
      }
      // The seed needs only the ids and the event's bytes: the rest is not decoded.
    }, oneTripCreate ? decodePostCreatedHead : undefined),
    on(PostUpdatedSchema, async (e) => rm.putPost(e.post!, false)),
    on(PostDeletedSchema, async (e) => {
      await rm.deletePost(e.postId);
      if (e.referPostId !== 0n) {
        await rm.referred(e.referPostId, e.authorId, e.postId, false);
        await rm.referTouched(e.referPostId, e.authorId);
      }
    }),
  ];
}

/**
 * `feed-read-model-graph`: the relationships the page path reads (`rm:rel`, and the
 * viewers' sets `rm:rels`), refreshed in place from graph when an event changes a pair
 * (sets amended with OASIS_FEED_REL_SET_AMEND, else dropped). A follow, a follow request
 * or a block changes how both users see each other; a mute only the muter's view. Starts
 * at new events when created (it only drops and fences what was loaded after it existed;
 * with OASIS_FEED_GRAPH_MERGED its durable is deleted, and turning the switch off again
 * must not replay the whole stream).
 */
export function graphReadModelConsumer(ctx: FeedContext) {
  const amend = ctx.rt.config.relSetAmend;
  const both = (a: bigint, b: bigint) => ctx.readModel.relationshipsChanged(ctx, [[a, b], [b, a]], amend);
  return {
    name: "feed-read-model-graph",
    deliver: "new" as const,
    handlers: [
      on(FollowCreatedSchema, async (e) => both(e.followerId, e.followeeId)),
      on(FollowRemovedSchema, async (e) => both(e.followerId, e.followeeId)),
      on(FollowRequestedSchema, async (e) => both(e.requesterId, e.targetId)),
      on(BlockCreatedSchema, async (e) => both(e.blockerId, e.blockedId)),
      on(BlockRemovedSchema, async (e) => both(e.blockerId, e.blockedId)),
      on(MuteCreatedSchema, async (e) => ctx.readModel.relationshipsChanged(ctx, [[e.muterId, e.mutedId]], amend)),
      on(MuteRemovedSchema, async (e) => ctx.readModel.relationshipsChanged(ctx, [[e.muterId, e.mutedId]], amend)),
    ] as never,
  };
}
