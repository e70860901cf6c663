/**
 * What interaction consumes: post events. A post referring to another adds a refer (and
 * its counter), its deletion takes it away; a deleted post's comments are hidden. Each
 * event is applied once (kit applyOnce: its id is recorded in the same transaction).
 */
import { create } from "@bufbuild/protobuf";
import { applyOnce, applyOnceBatched, on, type BatchEvent, type ConsumerBatch, type EventHandler } from "#kit/consumer.ts";
import { PostCreatedSchema, PostDeletedSchema, PostReferredSchema, type PostCreated } from "#gen/oasis/post/v1/events_pb.ts";
import type { InteractionContext } from "./context.ts";
import { decodePostCreatedHead } from "../../shared-rules/post-created-head.ts";
import { TransferPostedSchema } from "#gen/oasis/wallet/v1/events_pb.ts";
import { TransferCode } from "#gen/oasis/wallet/v1/wallet_pb.ts";
import { addTip, bumpCount, deleteRefer, insertRefer, lockLivePostMeta, markPostDeleted, upsertPostMeta, upsertPostMetaStatement, upsertPostsMeta, type Counts } from "./store.ts";

/** post_deleted: the post's posts_meta row marked deleted (its comments hidden), its refer taken away. */
function postDeletedHandler(ctx: InteractionContext, name: string): EventHandler<typeof PostDeletedSchema> {
  return on(PostDeletedSchema, async (e, meta) => {
    let counts: Counts | undefined;
    await applyOnce(ctx.rt.db, name, meta.eventId, async (tx) => {
      await markPostDeleted(tx, e.postId, e.authorId);
      if (e.referPostId && (await deleteRefer(tx, e.referPostId, e.postId))) {
        counts = await bumpCount(tx, e.referPostId, "refers", -1);
      }
    });
    if (counts) {
      await ctx.counters.publish(e.referPostId, counts);
      await ctx.viewerStates.invalidate(e.authorId);
    }
  });
}

/** Whether interaction reads refer-tos from post_referred (OASIS_INTERACTION_REFERRED_EVENTS, with posts_meta written at use). */
const referredEvents = (ctx: InteractionContext) => ctx.rt.config.referredEvents && ctx.rt.config.postMetaOnUse;

/**
 * Interaction's consumer of post's events (`interaction-posts`). With
 * OASIS_INTERACTION_REFERRED_EVENTS (and OASIS_INTERACTION_POST_META_ON_USE) it takes
 * post_deleted alone, filtered on that subject, so no post_created reaches interaction
 * (refer-tos come from post_referred: referConsumer); else every post event, with
 * OASIS_INTERACTION_POST_BATCH > 0 in batches (postBatch).
 */
export function postConsumer(ctx: InteractionContext) {
  const name = "interaction-posts";
  if (referredEvents(ctx)) return { name, handlers: [postDeletedHandler(ctx, name)] };
  const handlers: EventHandler<any>[] = [
    on(PostCreatedSchema, async (e, meta) => {
      const post = e.post!;
      // OASIS_INTERACTION_POST_META_ON_USE: a post that refers to nothing needs nothing
      // here; its posts_meta row is written by the first act on it (domain/posts.ts
      // checkedPost), before anything can read it.
      if (ctx.rt.config.postMetaOnUse && !post.referPostId) return;
      // Most posts refer to nothing: the posts_meta row is all, and INSERT IGNORE is
      // idempotent by itself (never changes a row, a deleted one included): no claim.
      if (ctx.rt.config.batchedPostEvents && ctx.rt.config.unclaimedPostMeta && !post.referPostId) {
        await upsertPostMeta(ctx.rt.db, post.postId, post.authorId);
        return;
      }
      // Else the claim and the posts_meta row in one round trip.
      if (ctx.rt.config.batchedPostEvents && !post.referPostId) {
        await applyOnceBatched(ctx.rt.db, name, meta.eventId, async (tx, claim) => {
          await tx.run([claim, upsertPostMetaStatement(post.postId, post.authorId)], { commit: true });
        });
        return;
      }
      let counts: Counts | undefined;
      await applyOnce(ctx.rt.db, name, meta.eventId, async (tx) => {
        await upsertPostMeta(tx, post.postId, post.authorId);
        if (post.referPostId && (await insertRefer(tx, post.referPostId, post.postId, post.authorId))) {
          counts = await bumpCount(tx, post.referPostId, "refers", 1);
        }
      });
      if (counts) {
        await ctx.counters.publish(post.referPostId, counts);
        await ctx.viewerStates.invalidate(post.authorId);
      }
      // Only the post's three ids are used: with the switch, only they are decoded.
    }, ctx.rt.config.batchedPostEvents ? decodePostCreatedHead : undefined),
    postDeletedHandler(ctx, name),
  ];
  const max = ctx.rt.config.postBatch;
  return { name, handlers, ...(max > 0 && ctx.rt.config.batchedPostEvents && ctx.rt.config.unclaimedPostMeta && { batch: postBatch(ctx, handlers, max) }) };
}

/**
 * Interaction's consumer of refer-tos (`interaction-refers`, OASIS_INTERACTION_REFERRED_EVENTS;
 * none without it): post_referred, which post writes beside post_created for a post that
 * refers to another, adds the refer and its counter. It runs beside `interaction-posts`
 * (post_deleted), so a refer-to's deletion may be applied before its creation: the
 * deletion leaves the post's posts_meta row marked deleted, and a creation that finds it
 * so (under the row's lock, which both take first) adds nothing.
 */
export function referConsumer(ctx: InteractionContext) {
  if (!referredEvents(ctx)) return undefined;
  const name = "interaction-refers";
  return {
    name,
    handlers: [
      on(PostReferredSchema, async (e, meta) => {
        const post = e.post!;
        let counts: Counts | undefined;
        await applyOnce(ctx.rt.db, name, meta.eventId, async (tx) => {
          if (!(await lockLivePostMeta(tx, post.postId, post.authorId))) return;
          if (await insertRefer(tx, post.referPostId, post.postId, post.authorId)) counts = await bumpCount(tx, post.referPostId, "refers", 1);
        });
        if (counts) {
          await ctx.counters.publish(post.referPostId, counts);
          await ctx.viewerStates.invalidate(post.authorId);
        }
        // Only the post's three ids are used, and only they are decoded.
      }, (data) => create(PostReferredSchema, { post: decodePostCreatedHead(data).post })),
    ],
  };
}

/**
 * The posts consumer's batches: the events in stream order, each run of post_created
 * events without a refer-to written as one multi-row `INSERT IGNORE INTO posts_meta`
 * (what the per-event handler writes for each, one statement), every other event by its
 * own handler after what came before it. Idempotent as the handlers are: a batch redone
 * event by event (kit/consumer.ts) writes nothing twice.
 */
function postBatch(ctx: InteractionContext, handlers: readonly EventHandler<any>[], max: number): ConsumerBatch {
  const bySchema = new Map(handlers.map((h) => [h.schema, h]));
  return {
    max,
    async handle(events: readonly BatchEvent[]) {
      let run: PostCreated["post"][] = [];
      const flush = async () => {
        const posts = run.map((p) => ({ postId: p!.postId, authorId: p!.authorId }));
        run = [];
        await upsertPostsMeta(ctx.rt.db, posts);
      };
      for (const e of events) {
        if (e.schema === PostCreatedSchema && !(e.event as PostCreated).post!.referPostId) {
          if (!ctx.rt.config.postMetaOnUse) run.push((e.event as PostCreated).post);
          continue;
        }
        await flush();
        await bySchema.get(e.schema)?.handle(e.event as never, e.meta);
      }
      await flush();
    },
  };
}

/**
 * Wallet's tips: each posted tip (transfer_posted with code TIP) adds its drops to the
 * post's drops_received, once per transfer (the tips table's key), so PostView shows
 * them with the other counters and the feed needs no extra hop.
 */
export function walletConsumer(ctx: InteractionContext) {
  return {
    name: "interaction-tips",
    handlers: [
      on(TransferPostedSchema, async (e) => {
        const t = e.transfer!;
        if (t.code !== TransferCode.TIP || t.postId === 0n) return;
        const counts = await ctx.rt.tx((tx) => addTip(tx, t.transferId, t.postId, t.amount));
        if (counts) await ctx.counters.publish(t.postId, counts);
      }),
    ],
  };
}
