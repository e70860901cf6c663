/**
 * InteractionService handlers. Every like or comment first asks the post service, as the
 * caller, for the post: that single check enforces "nobody interacts with a post they
 * cannot see" and blocks (a blocked user cannot see the post). Rows, counters and events
 * change in one transaction, only when a row really changed; Redis gets the committed
 * counters afterwards.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { asService } from "#kit/client.ts";
import { fingerprint, idempotent, storedResponse } from "#kit/idempotency.ts";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import { graphemeLength, parseMentions } from "#kit/text.ts";
import { ErrorReason } from "#gen/oasis/interaction/v1/errors_pb.ts";
import { CommentCreatedSchema, CommentDeletedSchema, PostLikedSchema, PostUnlikedSchema } from "#gen/oasis/interaction/v1/events_pb.ts";
import { CommentSchema, LikerSchema, PostCountsSchema, ViewerStateSchema, type Comment } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { CreateCommentRequestSchema, CreateCommentResponseSchema, InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import type { Post } from "#gen/oasis/post/v1/post_pb.ts";
import type { InteractionContext } from "./context.ts";
import { reconcile } from "./reconcile.ts";
import {
  bumpCount,
  commentById,
  commentsPage,
  countsOf,
  deleteLike,
  insertComment,
  insertLike,
  likersPage,
  markCommentDeleted,
  repliesOf,
  upsertPostMeta,
  type CommentRow,
  type Counts,
} from "./store.ts";

const caller = () => currentCaller();

/** A comment's length limit, in characters as people count them. */
export const maxCommentChars = 1000;

function toComment(c: CommentRow, replies: Comment[] = [], replyCount = 0): Comment {
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

export function interactionService(ctx: InteractionContext): ServiceImpl<typeof InteractionService> {
  const { rt, errors } = ctx;

  // Posts whose author is already recorded in posts_meta (authors never change).
  const knownPosts = new Set<bigint>();

  /** The post, if the caller may see it (the post service applies visibility and blocks). */
  async function visiblePost(postId: bigint): Promise<Post> {
    try {
      const post = (await ctx.post.getPost({ postId })).post!;
      if (!knownPosts.has(post.postId)) {
        await upsertPostMeta(rt.db, post.postId, post.authorId);
        if (knownPosts.size > 100_000) knownPosts.clear();
        knownPosts.add(post.postId);
      }
      return post;
    } catch (err) {
      if (ConnectError.from(err).code === Code.NotFound) {
        throw errors.notFound(ErrorReason.POST_NOT_FOUND, `no post ${postId} you can see`, { post_id: postId });
      }
      throw err;
    }
  }

  function countsMessage(postId: bigint, c: Omit<Counts, "v">) {
    return create(PostCountsSchema, { postId, likes: c.likes, comments: c.comments, refers: c.refers, dropsReceived: c.dropsReceived });
  }

  async function afterCountChange(postId: bigint, counts: Counts | undefined, user: bigint): Promise<void> {
    if (counts) await ctx.counters.publish(postId, counts);
    await ctx.viewerStates.invalidate(user);
  }

  return {
    async likePost(req) {
      const me = caller().userId!;
      const post = await visiblePost(req.postId);
      const counts = await rt.tx(async (tx) => {
        if (!(await insertLike(tx, post.postId, me, rt.ids.next()))) return undefined;
        const c = await bumpCount(tx, post.postId, "likes", 1);
        await rt.outbox.add(tx, PostLikedSchema, { postId: post.postId, postAuthorId: post.authorId, userId: me });
        return c;
      });
      await afterCountChange(post.postId, counts, me);
      return { counts: countsMessage(post.postId, counts ?? (await ctx.counters.get([post.postId])).get(post.postId)!) };
    },

    async unlikePost(req) {
      const me = caller().userId!;
      const counts = await rt.tx(async (tx) => {
        if (!(await deleteLike(tx, req.postId, me))) return undefined;
        const c = await bumpCount(tx, req.postId, "likes", -1);
        const [author] = await tx.query("SELECT author_id FROM posts_meta WHERE post_id = ?", [req.postId]).then(([r]) => r as Array<{ author_id: string }>);
        await rt.outbox.add(tx, PostUnlikedSchema, { postId: req.postId, postAuthorId: author ? BigInt(author.author_id) : 0n, userId: me });
        return c;
      });
      await afterCountChange(req.postId, counts, me);
      return { counts: countsMessage(req.postId, counts ?? (await ctx.counters.get([req.postId])).get(req.postId)!) };
    },

    async createComment(req) {
      const me = caller().userId!;
      const key = { scope: "CreateComment", callerId: me, requestId: req.requestId };
      const print = fingerprint(CreateCommentRequestSchema, req);
      const replay = await storedResponse(rt.db, key, print, CreateCommentResponseSchema);
      if (replay) return replay;
      const n = graphemeLength(req.text);
      if (n > maxCommentChars) {
        throw errors.invalid(ErrorReason.TEXT_TOO_LONG, [{ field: "text", description: `is ${n} characters; at most ${maxCommentChars}` }]);
      }
      const post = await visiblePost(req.postId);
      let parentId = 0n;
      let parentAuthor = 0n;
      if (req.parentCommentId) {
        const parent = await commentById(rt.db, req.parentCommentId);
        if (!parent || parent.deleted || parent.takenDown) throw errors.notFound(ErrorReason.COMMENT_NOT_FOUND, `no comment ${req.parentCommentId}`);
        if (parent.postId !== post.postId) {
          throw errors.invalid(ErrorReason.PARENT_MISMATCH, [{ field: "parent_comment_id", description: "belongs to another post" }]);
        }
        // One level of replies: a reply to a reply joins the same thread.
        parentId = parent.parentCommentId || parent.commentId;
        parentAuthor = parent.authorId;
      }
      const handles = parseMentions(req.text);
      const mentioned = (
        await Promise.all(
          handles.map((h) =>
            ctx.identity.getProfile({ lookup: { case: "handle", value: h } }, asService(rt.config.meshSecret)).then(
              (r) => r.profile!.userId,
              () => undefined,
            ),
          ),
        )
      ).filter((x): x is bigint => x !== undefined);
      let counts: Counts | undefined;
      const { response } = await rt.tx((tx) =>
        idempotent(tx, key, print, CreateCommentResponseSchema, async () => {
          const row = { commentId: rt.ids.next(), postId: post.postId, authorId: me, parentCommentId: parentId, text: req.text, mentionUserIds: mentioned, createdAt: new Date() };
          await insertComment(tx, row);
          counts = await bumpCount(tx, post.postId, "comments", 1);
          const comment = toComment({ ...row, deleted: false });
          await rt.outbox.add(tx, CommentCreatedSchema, { comment, postAuthorId: post.authorId, parentAuthorId: parentAuthor });
          return create(CreateCommentResponseSchema, { comment });
        }),
      );
      if (counts) await ctx.counters.publish(post.postId, counts);
      return response;
    },

    async deleteComment(req) {
      const me = caller().userId!;
      const c = await commentById(rt.db, req.commentId);
      if (!c || c.deleted) return {};
      if (c.authorId !== me) {
        const [meta] = (await rt.db.query("SELECT author_id FROM posts_meta WHERE post_id = ?", [c.postId]))[0] as Array<{ author_id: string }>;
        if (!meta || BigInt(meta.author_id) !== me) {
          throw errors.permissionDenied(ErrorReason.NOT_ALLOWED, "only the comment's author or the post's owner may delete it", { comment_id: c.commentId });
        }
      }
      const counts = await rt.tx(async (tx) => {
        // Locked first: a comment taken down by moderation is already out of the count.
        const shown = !(await commentById(tx, c.commentId, true))?.takenDown;
        if (!(await markCommentDeleted(tx, c.commentId))) return undefined;
        const after = shown ? await bumpCount(tx, c.postId, "comments", -1) : (await countsOf(tx, [c.postId])).get(c.postId)!;
        await rt.outbox.add(tx, CommentDeletedSchema, { commentId: c.commentId, postId: c.postId, authorId: c.authorId });
        return after;
      });
      if (counts) await ctx.counters.publish(c.postId, counts);
      return {};
    },

    async listComments(req) {
      await visiblePost(req.postId);
      const scope = `comments:${req.postId}:${req.parentCommentId}`;
      const limit = pageSize(req.pageSize, 20, 100);
      const after = (decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined) ?? 0n;
      const rows = await commentsPage(rt.db, req.postId, req.parentCommentId, after, limit + 1);
      const page = rows.slice(0, limit);
      let comments: Comment[];
      if (req.parentCommentId === 0n) {
        const { replies, counts } = await repliesOf(rt.db, page.map((c) => c.commentId), 3);
        comments = page.map((c) =>
          toComment(
            c,
            replies.filter((r) => r.parentCommentId === c.commentId).map((r) => toComment(r)),
            counts.get(c.commentId) ?? 0,
          ),
        );
      } else comments = page.map((c) => toComment(c));
      return { comments, nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.commentId]) : "" };
    },

    async listLikers(req) {
      await visiblePost(req.postId);
      const scope = `likers:${req.postId}`;
      const limit = pageSize(req.pageSize, 50, 1000);
      const before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const rows = await likersPage(rt.db, req.postId, before, limit + 1);
      const page = rows.slice(0, limit);
      return {
        likers: page.map((r) => create(LikerSchema, { userId: r.userId, createdAt: timestampFromDate(r.createdAt) })),
        nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.id]) : "",
      };
    },

    async batchGetCounts(req) {
      const counts = await ctx.counters.get([...new Set(req.postIds)]);
      return { counts: req.postIds.map((id) => countsMessage(id, counts.get(id)!)) };
    },

    async batchGetViewerState(req) {
      const states = await ctx.viewerStates.get(caller().userId!, [...new Set(req.postIds)]);
      return { states: req.postIds.map((id) => create(ViewerStateSchema, { postId: id, ...states.get(id)! })) };
    },

    async reconcileCounts(req) {
      const ids = req.postIds.length ? [...req.postIds] : await ctx.counters.takeDirty(10_000);
      const r = await reconcile(ctx, ids);
      return { checked: BigInt(r.checked), fixed: BigInt(r.fixed) };
    },
  };
}
