/**
 * Comments: one level of replies, @mentions resolved to user ids, rows, the post's
 * counter and events in one transaction; creates idempotent by request_id.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { asService } from "#kit/client.ts";
import { idempotentCreate } from "#kit/idempotency.ts";
import { graphemeLength, parseMentions } from "#kit/text.ts";
import { ErrorReason } from "#gen/oasis/interaction/v1/errors_pb.ts";
import { CommentCreatedSchema, CommentDeletedSchema } from "#gen/oasis/interaction/v1/events_pb.ts";
import { CommentSchema, type Comment } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { CreateCommentRequestSchema, CreateCommentResponseSchema, type CreateCommentRequest, type CreateCommentResponse } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import type { InteractionContext } from "../context.ts";
import type { CommentRow, Counts } from "./model.ts";
import { visiblePost } from "./posts.ts";

/** A comment's length limit, in characters as people count them. */
export const maxCommentChars = 1000;

/** The Comment message of a stored row, with its first replies and reply count. */
export function toComment(c: CommentRow, replies: Comment[] = [], replyCount = 0): Comment {
  return create(CommentSchema, {
    commentId: c.commentId,
    postId: c.postId,
    authorId: c.authorId,
    text: c.text,
    parentCommentId: c.parentCommentId,
    mentionUserIds: c.mentionUserIds,
    createdAt: timestampFromDate(c.createdAt),
    replies,
    replyCount,
  });
}

/** User ids of the @handles in `text` that exist (identity, as the service; unknown handles are dropped). */
async function mentionedUsers(ctx: InteractionContext, text: string): Promise<bigint[]> {
  const found = await Promise.all(
    parseMentions(text).map((h) =>
      ctx.identity.getProfile({ lookup: { case: "handle", value: h } }, asService()).then(
        (r) => r.profile!.userId,
        () => undefined,
      ),
    ),
  );
  return found.filter((x): x is bigint => x !== undefined);
}

/**
 * `authorId` comments on a post they can see, or replies to a comment of it (a reply to
 * a reply joins the same thread). Errors: INVALID_ARGUMENT TEXT_TOO_LONG (over
 * maxCommentChars) or PARENT_MISMATCH, NOT_FOUND COMMENT_NOT_FOUND (parent), those of
 * visiblePost; a reused request_id with another request is INVALID_ARGUMENT.
 */
export async function createComment(ctx: InteractionContext, authorId: bigint, req: CreateCommentRequest): Promise<CreateCommentResponse> {
  const { rt, store, errors } = ctx;
  const once = idempotentCreate({ scope: "CreateComment", callerId: authorId, requestId: req.requestId }, CreateCommentRequestSchema, req, CreateCommentResponseSchema);
  const replay = await once.replay(rt.db);
  if (replay) return replay;
  const n = graphemeLength(req.text);
  if (n > maxCommentChars) {
    throw errors.invalid(ErrorReason.TEXT_TOO_LONG, [{ field: "text", description: `is ${n} characters; at most ${maxCommentChars}` }]);
  }
  const post = await visiblePost(ctx, req.postId);
  let parentId = 0n;
  let parentAuthor = 0n;
  if (req.parentCommentId) {
    const parent = await store.commentById(rt.db, req.parentCommentId);
    if (!parent || parent.deleted || parent.takenDown) throw errors.notFound(ErrorReason.COMMENT_NOT_FOUND, `no comment ${req.parentCommentId}`);
    if (parent.postId !== post.postId) {
      throw errors.invalid(ErrorReason.PARENT_MISMATCH, [{ field: "parent_comment_id", description: "belongs to another post" }]);
    }
    parentId = parent.parentCommentId || parent.commentId;
    parentAuthor = parent.authorId;
  }
  const mentioned = await mentionedUsers(ctx, req.text);
  let counts: Counts | undefined;
  const { response } = await rt.tx((tx) =>
    once.run(tx, async () => {
      const row = { commentId: rt.ids.next(), postId: post.postId, authorId, parentCommentId: parentId, text: req.text, mentionUserIds: mentioned, createdAt: new Date() };
      await store.insertComment(tx, row);
      counts = await store.bumpCount(tx, post.postId, "comments", 1);
      const comment = toComment({ ...row, deleted: false });
      await rt.outbox.add(tx, CommentCreatedSchema, { comment, postAuthorId: post.authorId, parentAuthorId: parentAuthor });
      return create(CreateCommentResponseSchema, { comment });
    }),
  );
  if (counts) await ctx.counters.publish(post.postId, counts);
  return response;
}

/**
 * `userId` deletes a comment: its author or the post's owner may (idempotent: an absent
 * or deleted comment is a no-op). Errors: PERMISSION_DENIED NOT_ALLOWED.
 */
export async function deleteComment(ctx: InteractionContext, userId: bigint, commentId: bigint): Promise<void> {
  const { rt, store, errors } = ctx;
  const c = await store.commentById(rt.db, commentId);
  if (!c || c.deleted) return;
  if (c.authorId !== userId && (await store.postAuthor(rt.db, c.postId)) !== userId) {
    throw errors.permissionDenied(ErrorReason.NOT_ALLOWED, "only the comment's author or the post's owner may delete it", { comment_id: c.commentId });
  }
  const counts = await rt.tx(async (tx) => {
    // Locked first: a comment taken down by moderation is already out of the count.
    const shown = !(await store.commentById(tx, c.commentId, true))?.takenDown;
    if (!(await store.markCommentDeleted(tx, c.commentId))) return undefined;
    const after = shown ? await store.bumpCount(tx, c.postId, "comments", -1) : (await store.countsOf(tx, [c.postId])).get(c.postId)!;
    await rt.outbox.add(tx, CommentDeletedSchema, { commentId: c.commentId, postId: c.postId, authorId: c.authorId });
    return after;
  });
  if (counts) await ctx.counters.publish(c.postId, counts);
}
