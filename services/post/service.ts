/**
 * PostService handlers. Creates check every media id with the media service (the
 * caller's own, live, post-images, no more than the bucket's max_count_per_post) and
 * resolve @mentions with identity before one transaction writes the post, its hashtags
 * and the post_created event. Every read goes through the reader's visibility filter.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { asService } from "#kit/client.ts";
import type { FieldViolation } from "#kit/errors.ts";
import { fingerprint, idempotent, storedResponse } from "#kit/idempotency.ts";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import { ErrorReason } from "#gen/oasis/post/v1/errors_pb.ts";
import { PostCreatedSchema, PostDeletedSchema, PostUpdatedSchema } from "#gen/oasis/post/v1/events_pb.ts";
import { MentionSchema, PostRevisionSchema, PostSchema, Visibility, type Mention, type Post } from "#gen/oasis/post/v1/post_pb.ts";
import { CreatePostRequestSchema, CreatePostResponseSchema, PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { PostContext } from "./context.ts";
import { captionLength, maxCaptionChars, parseCaptionHashtags as parseHashtags, parseCaptionMentions as parseMentions } from "./domain.ts";
import { addRevision, authorPostIds, insertPost, isSuspended, markDeleted, postsByIds, replaceHashtags, revisions, updateBody, userPostCount } from "./store.ts";

const caller = () => currentCaller();

export function postService(ctx: PostContext): ServiceImpl<typeof PostService> {
  const { rt, errors } = ctx;
  const service = () => asService(rt.config.meshSecret);

  function checkCaption(caption: string, field: string): void {
    const n = captionLength(caption);
    if (n > maxCaptionChars) {
      throw errors.invalid(ErrorReason.CAPTION_TOO_LONG, [{ field, description: `is ${n} characters; at most ${maxCaptionChars}` }], { max_chars: maxCaptionChars });
    }
  }

  /** Existing users among the caption's @handles (unknown handles are plain text). */
  async function resolveMentions(caption: string): Promise<Mention[]> {
    const handles = parseMentions(caption);
    const found = await Promise.all(
      handles.map((h) =>
        ctx.identity.getProfile({ lookup: { case: "handle", value: h } }, service()).then(
          (r) => create(MentionSchema, { userId: r.profile!.userId, handle: h }),
          (err) => {
            if (ConnectError.from(err).code === Code.NotFound) return undefined;
            throw err;
          },
        ),
      ),
    );
    return found.filter((m): m is Mention => !!m);
  }

  /**
   * The post-images bucket's max_count_per_post, asked of media on every create so an
   * operator's UpdateBucketPolicy applies at once (the call runs alongside the media
   * lookup, so it adds no latency). The proto's max_items (9) stays the absolute cap; a
   * missing bucket or a 0 leaves only that cap.
   */
  async function maxMediaPerPost(): Promise<number | undefined> {
    const { policies } = await ctx.media.listBucketPolicies({}, service());
    return policies.find((p) => p.bucket === "post-images")?.maxCountPerPost || undefined;
  }

  async function getVisible(postId: bigint): Promise<Post> {
    const [post] = await ctx.reader.visibleByIds(caller(), [postId]);
    if (!post) throw errors.notFound(ErrorReason.POST_NOT_FOUND, `no post ${postId}`, { post_id: postId });
    return post;
  }

  return {
    async createPost(req) {
      const author = caller().userId!;
      const key = { scope: "CreatePost", callerId: author, requestId: req.requestId };
      const print = fingerprint(CreatePostRequestSchema, req);
      const replay = await storedResponse(rt.db, key, print, CreatePostResponseSchema);
      if (replay) return replay;

      checkCaption(req.caption, "caption");
      if (req.mediaIds.length === 0 && req.referPostId === 0n) {
        throw errors.invalid(ErrorReason.MEDIA_REQUIRED, [{ field: "media_ids", description: "a post needs at least one image unless it refers to another post" }]);
      }
      const [media, mentions, referred, maxMedia] = await Promise.all([
        req.mediaIds.length ? ctx.media.batchGetMedia({ mediaIds: req.mediaIds }, service()).then((r) => r.media) : [],
        resolveMentions(req.caption),
        req.referPostId ? ctx.reader.visibleByIds(caller(), [req.referPostId]) : [],
        req.mediaIds.length > 1 ? maxMediaPerPost() : undefined,
      ]);
      if (maxMedia !== undefined && req.mediaIds.length > maxMedia) {
        const rule = "max_count_per_post";
        throw errors.invalid(
          ErrorReason.MEDIA_NOT_USABLE,
          [{ field: "media_ids", description: `has ${req.mediaIds.length} images; bucket post-images allows at most ${maxMedia} per post (${rule})`, reason: rule }],
          { rule, max_count_per_post: maxMedia },
        );
      }
      const byId = new Map(media.map((m) => [m.id, m]));
      const bad: FieldViolation[] = [];
      req.mediaIds.forEach((id, i) => {
        const m = byId.get(id);
        if (!m) bad.push({ field: `media_ids[${i}]`, description: `media ${id} does not exist` });
        else if (m.ownerId !== author) bad.push({ field: `media_ids[${i}]`, description: `media ${id} is not yours` });
        else if (m.bucket !== "post-images") bad.push({ field: `media_ids[${i}]`, description: `media ${id} was uploaded to ${m.bucket}, not post-images` });
      });
      if (bad.length) throw errors.invalid(ErrorReason.MEDIA_NOT_USABLE, bad);
      if (req.referPostId && referred.length === 0) {
        throw errors.invalid(ErrorReason.REFERRED_POST_UNAVAILABLE, [{ field: "refer_post_id", description: `post ${req.referPostId} does not exist or is not visible to you` }]);
      }
      const { response } = await rt.tx((tx) =>
        idempotent(tx, key, print, CreatePostResponseSchema, async () => {
          const now = timestampNow();
          const post = create(PostSchema, {
            postId: rt.ids.next(),
            authorId: author,
            caption: req.caption,
            media: req.mediaIds.map((id) => byId.get(id)!),
            hashtags: parseHashtags(req.caption),
            mentions,
            referPostId: req.referPostId,
            visibility: req.visibility === Visibility.UNSPECIFIED ? Visibility.PUBLIC : req.visibility,
            createdAt: now,
            updatedAt: now,
            // Locking read: a suspension being applied waits for this post, then flags it too.
            authorSuspended: await isSuspended(tx, author, true),
          });
          await insertPost(tx, post);
          await rt.outbox.add(tx, PostCreatedSchema, { post });
          return create(CreatePostResponseSchema, { post });
        }),
      );
      return response;
    },

    async getPost(req) {
      return { post: await getVisible(req.postId) };
    },

    async batchGetPosts(req) {
      return { posts: await ctx.reader.visibleByIds(caller(), [...new Set(req.postIds)]) };
    },

    async updatePost(req) {
      const me = caller().userId!;
      const paths = req.updateMask?.paths ?? [];
      if (paths.length !== 1 || paths[0] !== "caption") {
        throw errors.invalid(ErrorReason.FIELD_NOT_UPDATABLE, [{ field: "update_mask", description: 'only "caption" can be updated' }]);
      }
      const next = req.post!;
      checkCaption(next.caption, "post.caption");
      const mentions = await resolveMentions(next.caption);
      const updated = await rt.tx(async (tx) => {
        const stored = (await postsByIds(tx, [next.postId], true)).get(next.postId);
        if (!stored || stored.deleted) throw errors.notFound(ErrorReason.POST_NOT_FOUND, `no post ${next.postId}`, { post_id: next.postId });
        const post = stored.post;
        if (post.authorId !== me) throw errors.permissionDenied(ErrorReason.NOT_POST_AUTHOR, "only the author may edit a post", { post_id: post.postId });
        if (post.editCount === 0) await addRevision(tx, post.postId, 1, post.caption, new Date(Number(post.createdAt!.seconds) * 1000));
        const after = create(PostSchema, {
          ...post,
          caption: next.caption,
          hashtags: parseHashtags(next.caption),
          mentions,
          updatedAt: timestampNow(),
          editCount: post.editCount + 1,
        });
        await addRevision(tx, post.postId, after.editCount + 1, after.caption, new Date());
        await updateBody(tx, after);
        await replaceHashtags(tx, post.postId, after.hashtags);
        await rt.outbox.add(tx, PostUpdatedSchema, { post: after });
        return after;
      });
      await ctx.reader.invalidate([updated.postId]);
      return { post: updated };
    },

    async deletePost(req) {
      const me = caller().userId!;
      const result = await rt.tx(async (tx) => {
        const stored = (await postsByIds(tx, [req.postId], true)).get(req.postId);
        if (!stored) return "missing" as const;
        if (stored.post.authorId !== me) return "forbidden" as const;
        if (await markDeleted(tx, req.postId)) {
          await rt.outbox.add(tx, PostDeletedSchema, { postId: req.postId, authorId: me, referPostId: stored.post.referPostId });
        }
        return "ok" as const;
      });
      if (result === "missing") throw errors.notFound(ErrorReason.POST_NOT_FOUND, `no post ${req.postId}`, { post_id: req.postId });
      if (result === "forbidden") throw errors.permissionDenied(ErrorReason.NOT_POST_AUTHOR, "only the author may delete a post", { post_id: req.postId });
      await ctx.reader.invalidate([req.postId]);
      return {};
    },

    async listUserPosts(req) {
      const scope = `user-posts:${req.userId}`;
      const limit = pageSize(req.pageSize, 20, 100);
      let before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const posts: Post[] = [];
      // Some posts may be hidden from this caller (followers-only): read on until the page is full.
      for (let round = 0; round < 10 && posts.length < limit; round++) {
        const ids = await authorPostIds(rt.db, req.userId, before, limit * 2);
        if (ids.length === 0) break;
        for (const p of await ctx.reader.visibleByIds(caller(), ids)) {
          if (posts.length < limit) posts.push(p);
        }
        before = ids.at(-1);
        if (ids.length < limit * 2) {
          before = undefined;
          break;
        }
      }
      const last = posts.at(-1);
      const more = posts.length === limit && last !== undefined;
      return { posts, nextPageToken: more ? encodePageToken(scope, [last.postId]) : "", totalSize: await userPostCount(rt.db, req.userId) };
    },

    async listPostRevisions(req) {
      const post = await getVisible(req.postId);
      const revs = await revisions(rt.db, post.postId);
      return {
        revisions: revs
          .filter((r) => r.revision <= post.editCount)
          .map((r) => create(PostRevisionSchema, { revision: r.revision, caption: r.caption, createdAt: timestampFromDate(r.createdAt) })),
      };
    },

    async listAuthorPostIds(req) {
      const scope = `author-posts:${req.authorId}`;
      const limit = pageSize(req.pageSize, 800, 1000);
      const before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const ids = await authorPostIds(rt.db, req.authorId, before, limit + 1);
      const page = ids.slice(0, limit);
      return { postIds: page, nextPageToken: ids.length > limit ? encodePageToken(scope, [page.at(-1)!]) : "" };
    },
  };
}
