/**
 * What interaction consumes: post events. A post referring to another adds a refer (and
 * its counter), its deletion takes it away; a deleted post's comments are hidden. Each
 * event is applied once (kit applyOnce: its id is recorded in the same transaction).
 */
import { applyOnce, applyOnceBatched, on } from "#kit/consumer.ts";
import { PostCreatedSchema, PostDeletedSchema } from "#gen/oasis/post/v1/events_pb.ts";
import type { InteractionContext } from "./context.ts";
import { decodePostCreatedHead } from "../../shared-rules/post-created-head.ts";
import { TransferPostedSchema } from "#gen/oasis/wallet/v1/events_pb.ts";
import { TransferCode } from "#gen/oasis/wallet/v1/wallet_pb.ts";
import { addTip, bumpCount, deleteRefer, insertRefer, markPostDeleted, upsertPostMeta, upsertPostMetaStatement, type Counts } from "./store.ts";

export function postConsumer(ctx: InteractionContext) {
  const name = "interaction-posts";
  return {
    name,
    handlers: [
      on(PostCreatedSchema, async (e, meta) => {
        const post = e.post!;
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
      on(PostDeletedSchema, async (e, meta) => {
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
      }),
    ],
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
