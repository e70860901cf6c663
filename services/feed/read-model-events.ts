/**
 * The consumers that keep the read model (read-model.ts) up to date, one per domain,
 * each handling its events in stream order (concurrency 1), so a post_updated never lands
 * before its post_created. Every handler is idempotent: it writes the state the event
 * carries, or drops a key that the next read reloads.
 */
import { on } from "#kit/consumer.ts";
import { AccountCreatedSchema, ProfileUpdatedSchema } from "#gen/oasis/identity/v1/events_pb.ts";
import { CommentCreatedSchema, CommentDeletedSchema, CommentModeratedSchema, PostLikedSchema, PostUnlikedSchema } from "#gen/oasis/interaction/v1/events_pb.ts";
import { PostCreatedSchema, PostDeletedSchema, PostUpdatedSchema } from "#gen/oasis/post/v1/events_pb.ts";
import type { ReadModel } from "./read-model.ts";

/** Consumers for post, identity and (when the mesh has it) interaction events. */
export function readModelConsumers(rm: ReadModel, withInteraction: boolean) {
  const consumers = [
    {
      name: "feed-read-model-post",
      handlers: [
        on(PostCreatedSchema, async (e) => {
          await rm.putPost(e.post!, true);
          // A refer-to adds to the referred post's refers and to its author's state.
          if (e.post!.referPostId !== 0n) {
            await rm.referred(e.post!.referPostId, e.post!.authorId, e.post!.postId, true);
            await rm.referTouched(e.post!.referPostId, e.post!.authorId);
          }
        }),
        on(PostUpdatedSchema, async (e) => rm.putPost(e.post!, false)),
        on(PostDeletedSchema, async (e) => {
          await rm.deletePost(e.postId);
          if (e.referPostId !== 0n) {
            await rm.referred(e.referPostId, e.authorId, e.postId, false);
            await rm.referTouched(e.referPostId, e.authorId);
          }
        }),
      ],
    },
    {
      name: "feed-read-model-identity",
      handlers: [on(AccountCreatedSchema, async (e) => rm.putProfile(e.profile!)), on(ProfileUpdatedSchema, async (e) => rm.putProfile(e.profile!))],
    },
  ];
  if (withInteraction) {
    consumers.push({
      name: "feed-read-model-interaction",
      handlers: [
        on(PostLikedSchema, async (e) => {
          await rm.liked(e.postId, e.userId, true);
          await rm.touched(e.postId, e.userId);
        }),
        on(PostUnlikedSchema, async (e) => {
          await rm.liked(e.postId, e.userId, false);
          await rm.touched(e.postId, e.userId);
        }),
        on(CommentCreatedSchema, async (e) => rm.touched(e.comment!.postId)),
        on(CommentDeletedSchema, async (e) => rm.touched(e.postId)),
        on(CommentModeratedSchema, async (e) => rm.touched(e.postId)),
      ] as never,
    });
  }
  return consumers;
}
