/**
 * What interaction consumes: post events, and wallet's tips. A post referring to another
 * adds a refer (and its counter), its deletion takes it away; a deleted post's comments
 * are hidden. Each event is applied once (kit applyOnce: its id is recorded in the same
 * transaction).
 *
 * No post_created reaches interaction (design note 67): post writes post_referred beside
 * a refer-to's post_created (the same bytes), and interaction reads it and post_deleted
 * with a consumer each, each filtered on its one subject (NATS 2.9: one filter subject a
 * consumer; a consumer of both would take every post event). A post's posts_meta row is
 * written by its first like or comment (domain/posts.ts checkedPost; design note 63).
 */
import { create } from "@bufbuild/protobuf";
import { applyOnce, on, type EventHandler } from "#kit/consumer.ts";
import { PostDeletedSchema, PostReferredSchema } from "#gen/oasis/post/v1/events_pb.ts";
import type { InteractionContext } from "./context.ts";
import { decodePostCreatedHead } from "../../shared-rules/post-created-head.ts";
import { TransferPostedSchema } from "#gen/oasis/wallet/v1/events_pb.ts";
import { TransferCode } from "#gen/oasis/wallet/v1/wallet_pb.ts";
import { addTip, bumpCount, deleteRefer, insertRefer, lockLivePostMeta, markPostDeleted, type Counts } from "./store.ts";

/**
 * Interaction's consumer of post's deletions (`interaction-posts`, filtered on
 * post_deleted): the post's posts_meta row marked deleted (its comments hidden; written
 * deleted if absent, so a refer-to's creation applied after it adds nothing), its refer
 * and the referred post's counter taken away.
 */
export function postConsumer(ctx: InteractionContext) {
  const name = "interaction-posts";
  const handlers: EventHandler<any>[] = [
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
  ];
  return { name, handlers };
}

/**
 * Interaction's consumer of refer-tos (`interaction-refers`, filtered on post_referred,
 * which post writes beside a refer-to's post_created): the refer and the referred post's
 * counter. It runs beside `interaction-posts`, so a refer-to's deletion may be applied
 * before its creation: the deletion leaves the post's posts_meta row marked deleted, and
 * a creation that finds it so (under the row's lock, which both take first) adds nothing.
 */
export function referConsumer(ctx: InteractionContext) {
  const name = "interaction-refers";
  const handlers: EventHandler<any>[] = [
    on(
      PostReferredSchema,
      async (e, meta) => {
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
      },
      // Only the post's three ids are used, and only they are decoded (post_referred holds the post as post_created does).
      (data) => create(PostReferredSchema, { post: decodePostCreatedHead(data).post }),
    ),
  ];
  return { name, handlers };
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
