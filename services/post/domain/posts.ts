/**
 * Post's use cases. Creates check every media id with the media service (the caller's
 * own, live, post-images, no more than the bucket's max_count_per_post) and resolve
 * @mentions with identity before one transaction writes the post, its hashtags and the
 * post_created event (and, for a refer-to, post_referred: the same bytes, on their own
 * subject, for interaction's refer counts). Every read goes through the reader's visibility filter.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { asService } from "#kit/client.ts";
import type { FieldViolation } from "#kit/errors.ts";
import { claimedKey, idempotentCreate } from "#kit/idempotency.ts";
import type { BucketPolicy, Media } from "#gen/oasis/media/v1/media_pb.ts";
import { ErrorReason } from "#gen/oasis/post/v1/errors_pb.ts";
import { PostCreatedSchema, PostDeletedSchema, PostReferredSchema, PostUpdatedSchema } from "#gen/oasis/post/v1/events_pb.ts";
import { MentionSchema, PostSchema, Visibility, type Mention, type Post } from "#gen/oasis/post/v1/post_pb.ts";
import { CreatePostRequestSchema, CreatePostResponseSchema, type CreatePostRequest, type CreatePostResponse } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { PostContext } from "../context.ts";
import { peekMedia } from "../../../shared-rules/media-cache.ts";
import { captionLength, maxCaptionChars, parseCaptionHashtags as parseHashtags, parseCaptionMentions as parseMentions } from "./rules.ts";

/** CreatePostResponse and PostCreated both hold the post as the same field: one encoding is both. */
/** The session variable a one-round-trip create's batch holds the post's bytes in (OASIS_POST_BYTES_ONCE). */
const postBytesVar = "@oasis_post_bytes";
/** PostReferred holds the post as PostCreated does: post_created's bytes are post_referred's too. */
const referredIsCreated = PostReferredSchema.field.post.number === PostCreatedSchema.field.post.number && PostReferredSchema.fields.length === 1 && PostCreatedSchema.fields.length === 1;
const responseIsEvent = CreatePostResponseSchema.field.post.number === PostCreatedSchema.field.post.number && CreatePostResponseSchema.fields.length === 1 && PostCreatedSchema.fields.length === 1;

/** INVALID_ARGUMENT CAPTION_TOO_LONG on `field` when the caption is over maxCaptionChars. */
function checkCaption(ctx: PostContext, caption: string, field: string): void {
  const n = captionLength(caption);
  if (n > maxCaptionChars) {
    throw ctx.errors.invalid(ErrorReason.CAPTION_TOO_LONG, [{ field, description: `is ${n} characters; at most ${maxCaptionChars}` }], { max_chars: maxCaptionChars });
  }
}

/** Existing users among the caption's @handles (unknown handles are plain text). */
async function resolveMentions(ctx: PostContext, caption: string): Promise<Mention[]> {
  const handles = parseMentions(caption);
  const found = await Promise.all(
    handles.map((h) =>
      ctx.identity.getProfile({ lookup: { case: "handle", value: h } }, asService()).then(
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

/** The post if the current caller may see it. NOT_FOUND POST_NOT_FOUND otherwise. */
export async function getVisible(ctx: PostContext, postId: bigint): Promise<Post> {
  const [post] = await ctx.reader.visibleByIds(currentCaller(), [postId]);
  if (!post) throw ctx.errors.notFound(ErrorReason.POST_NOT_FOUND, `no post ${postId}`, { post_id: postId });
  return post;
}

/**
 * `author`'s new post (idempotent by request_id). Errors: INVALID_ARGUMENT with
 * CAPTION_TOO_LONG, MEDIA_REQUIRED (no image and no refer_post_id), MEDIA_NOT_USABLE
 * (absent, another user's, another bucket's, over max_count_per_post),
 * REFERRED_POST_UNAVAILABLE.
 */
export async function createPost(ctx: PostContext, author: bigint, req: CreatePostRequest): Promise<CreatePostResponse> {
  const { rt, store } = ctx;
  const once = idempotentCreate({ scope: "CreatePost", callerId: author, requestId: req.requestId }, CreatePostRequestSchema, req, CreatePostResponseSchema);
  const batched = rt.config.batchedWrites;
  // The step-by-step path reads the key first. The batched one claims it in its first
  // round trip and reads it alone only when the checks fail, so a retry of a create that
  // succeeded still gets its answer if its media has gone since.
  if (!batched) {
    const replay = await once.replay(rt.db);
    if (replay) return replay;
  }
  let checked: Checked;
  try {
    checked = await checkCreate(ctx, author, req);
  } catch (err) {
    const replay = batched ? await once.replay(rt.db) : undefined;
    if (replay) return replay;
    throw err;
  }
  const newPost = (authorSuspended: boolean) => {
    const now = timestampNow();
    return create(PostSchema, {
      postId: rt.ids.next(),
      authorId: author,
      caption: req.caption,
      media: req.mediaIds.map((id) => checked.media.get(id)!),
      hashtags: parseHashtags(req.caption),
      mentions: checked.mentions,
      referPostId: req.referPostId,
      visibility: req.visibility === Visibility.UNSPECIFIED ? Visibility.PUBLIC : req.visibility,
      createdAt: now,
      updatedAt: now,
      authorSuspended,
    });
  };
  if (batched && rt.config.oneTripCreate && (req.requestId || rt.config.oneTripWithoutId)) {
    // One round trip: the author's suspensions locked, the key claimed only if there is
    // none (the common case), the post, its hashtags, post_created's outbox row and the
    // stored response each only if the key was claimed here, COMMIT. A suspended author
    // (nothing written) goes on to the two round trips below, which flag the post.
    // Without a request id (OASIS_POST_ONE_TRIP_WITHOUT_ID) the same batch with no key:
    // the rows are written only if the author has no suspension.
    const post = newPost(false);
    // The post is encoded once: post_created and the stored response are both the post
    // as their field 1, so one encoding of that serves as both.
    const body = toBinary(PostSchema, post);
    const wrapped = new BinaryWriter().tag(PostCreatedSchema.field.post.number, WireType.LengthDelimited).bytes(body).finish();
    // With OASIS_POST_BYTES_ONCE the batch carries those bytes once, in a session
    // variable the three writes read (the post's row takes them past field 1's tag and
    // length): three copies of the post's bytes, hex-escaped into the SQL text, were most
    // of the batch's size.
    const bytesOnce = rt.config.bytesOnce && responseIsEvent;
    const writes = bytesOnce
      ? {
          statements: [
            { sql: `SET ${postBytesVar} := ?`, params: [Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength)] },
            ...store.insertPostStatements(post, claimedKey, { sql: `SUBSTRING(${postBytesVar}, ${wrapped.byteLength - body.byteLength + 1})` }),
            rt.outbox.statement(PostCreatedSchema, { post }, claimedKey, { sql: postBytesVar }),
            // post_referred's bytes are post_created's (the same one field).
            ...(post.referPostId ? [rt.outbox.statement(PostReferredSchema, { post }, claimedKey, referredIsCreated ? { sql: postBytesVar } : undefined)] : []),
          ],
          encoded: { sql: postBytesVar },
        }
      : {
          statements: [
            ...store.insertPostStatements(post, claimedKey, body),
            rt.outbox.statement(PostCreatedSchema, { post }, claimedKey, wrapped),
            ...(post.referPostId ? [rt.outbox.statement(PostReferredSchema, { post }, claimedKey, referredIsCreated ? wrapped : undefined)] : []),
          ],
          encoded: responseIsEvent ? wrapped : undefined,
        };
    const done = await rt.batchTx((tx) =>
      once.runGuarded(tx, [store.suspendedForUpdateStatement(author)], store.notSuspendedCondition(author), { ...writes, response: create(CreatePostResponseSchema, { post }) }, rt.config.oneTripWithoutId),
    );
    if (done) return done.response;
  }
  if (batched) {
    // Round trip 1: the key's claim and the locking read of the author's suspensions (a
    // suspension being applied waits for this post, then flags it too). Round trip 2:
    // the post, its hashtags, post_created's outbox row, the stored response, COMMIT.
    const { response } = await rt.batchTx((tx) =>
      once.runBatched(tx, [store.suspendedForUpdateStatement(author)], ([suspensions]) => {
        const post = newPost((suspensions as unknown[]).length > 0);
        return {
          statements: [
            ...store.insertPostStatements(post),
            rt.outbox.statement(PostCreatedSchema, { post }),
            ...(post.referPostId ? [rt.outbox.statement(PostReferredSchema, { post })] : []),
          ],
          response: create(CreatePostResponseSchema, { post }),
        };
      }),
    );
    return response;
  }
  const { response } = await rt.tx((tx) =>
    once.run(tx, async () => {
      // Locking read: a suspension being applied waits for this post, then flags it too.
      const post = newPost(await store.isSuspended(tx, author, true));
      await store.insertPost(tx, post);
      await rt.outbox.add(tx, PostCreatedSchema, { post });
      if (post.referPostId) await rt.outbox.add(tx, PostReferredSchema, { post });
      return create(CreatePostResponseSchema, { post });
    }),
  );
  return response;
}

/** What a create's checks found: the media by id and the caption's mentions. */
interface Checked {
  readonly media: Map<bigint, Media>;
  readonly mentions: Mention[];
}

/** The bucket a post's media must be in; its policy's max_count_per_post applies. */
const postImages = "post-images";

/**
 * The media `ids` and, for more than one, post-images' policy, as media.BatchGetMedia
 * answers them: from media's cache in Redis when every one is there
 * (OASIS_POST_MEDIA_CACHE, shared-rules/media-cache.ts: an item is cached only while it
 * is live, and dropped before its delete answers), else from media.
 */
async function mediaOf(ctx: PostContext, ids: readonly bigint[]): Promise<{ media: Media[]; policies: BucketPolicy[] }> {
  const cached = ctx.mediaRedis && (await peekMedia(ctx.mediaRedis, ids, ids.length > 1 ? postImages : undefined));
  if (cached) {
    const media = [...cached.media.values()];
    // BatchGetMedia answers the policies of the found media's buckets only.
    return { media, policies: cached.policy && media.some((m) => m.bucket === postImages) ? [cached.policy] : [] };
  }
  return ctx.media.batchGetMedia({ mediaIds: [...ids] }, asService());
}

/**
 * The checks of a create that need no transaction: the caption, the media (with media),
 * the mentions (with identity) and the referred post. Throws the errors createPost lists.
 */
async function checkCreate(ctx: PostContext, author: bigint, req: CreatePostRequest): Promise<Checked> {
  const { errors } = ctx;
  checkCaption(ctx, req.caption, "caption");
  if (req.mediaIds.length === 0 && req.referPostId === 0n) {
    throw errors.invalid(ErrorReason.MEDIA_REQUIRED, [{ field: "media_ids", description: "a post needs at least one image unless it refers to another post" }]);
  }
  // One read of media's cache, or one call to media: the media and their buckets'
  // policies. post-images' policy is the one read at this create, so an operator's
  // UpdateBucketPolicy (which writes the cached policy too) applies at once. The
  // proto's max_items (9) stays the absolute cap; a missing policy or a 0 leaves only that.
  const [found, mentions, referred] = await Promise.all([
    req.mediaIds.length ? mediaOf(ctx, req.mediaIds) : { media: [], policies: [] },
    resolveMentions(ctx, req.caption),
    req.referPostId ? ctx.reader.visibleByIds(currentCaller(), [req.referPostId]) : [],
  ]);
  const media = found.media;
  const maxMedia = req.mediaIds.length > 1 ? found.policies.find((p) => p.bucket === postImages)?.maxCountPerPost || undefined : undefined;
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
    else if (m.bucket !== postImages) bad.push({ field: `media_ids[${i}]`, description: `media ${id} was uploaded to ${m.bucket}, not post-images` });
  });
  if (bad.length) throw errors.invalid(ErrorReason.MEDIA_NOT_USABLE, bad);
  if (req.referPostId && referred.length === 0) {
    throw errors.invalid(ErrorReason.REFERRED_POST_UNAVAILABLE, [{ field: "refer_post_id", description: `post ${req.referPostId} does not exist or is not visible to you` }]);
  }
  return { media: byId, mentions };
}

/**
 * `me` edits their post's caption (the first edit also stores the original as revision
 * 1). Errors: INVALID_ARGUMENT CAPTION_TOO_LONG on post.caption, NOT_FOUND
 * POST_NOT_FOUND, PERMISSION_DENIED NOT_POST_AUTHOR.
 */
export async function updateCaption(ctx: PostContext, me: bigint, next: Post): Promise<Post> {
  const { rt, errors, store } = ctx;
  checkCaption(ctx, next.caption, "post.caption");
  const mentions = await resolveMentions(ctx, next.caption);
  const updated = await rt.tx(async (tx) => {
    const stored = (await store.postsByIds(tx, [next.postId], true)).get(next.postId);
    if (!stored || stored.deleted) throw errors.notFound(ErrorReason.POST_NOT_FOUND, `no post ${next.postId}`, { post_id: next.postId });
    const post = stored.post;
    if (post.authorId !== me) throw errors.permissionDenied(ErrorReason.NOT_POST_AUTHOR, "only the author may edit a post", { post_id: post.postId });
    if (post.editCount === 0) await store.addRevision(tx, post.postId, 1, post.caption, new Date(Number(post.createdAt!.seconds) * 1000));
    const after = create(PostSchema, {
      ...post,
      caption: next.caption,
      hashtags: parseHashtags(next.caption),
      mentions,
      updatedAt: timestampNow(),
      editCount: post.editCount + 1,
    });
    await store.addRevision(tx, post.postId, after.editCount + 1, after.caption, new Date());
    await store.updateBody(tx, after);
    await store.replaceHashtags(tx, post.postId, after.hashtags);
    await rt.outbox.add(tx, PostUpdatedSchema, { post: after });
    return after;
  });
  await ctx.reader.invalidate([updated.postId]);
  return updated;
}

/** `me` deletes their post (idempotent once deleted). Errors: NOT_FOUND POST_NOT_FOUND, PERMISSION_DENIED NOT_POST_AUTHOR. */
export async function deletePost(ctx: PostContext, me: bigint, postId: bigint): Promise<void> {
  const { rt, errors, store } = ctx;
  const result = await rt.tx(async (tx) => {
    const stored = (await store.postsByIds(tx, [postId], true)).get(postId);
    if (!stored) return "missing" as const;
    if (stored.post.authorId !== me) return "forbidden" as const;
    if (await store.markDeleted(tx, postId)) {
      await rt.outbox.add(tx, PostDeletedSchema, { postId, authorId: me, referPostId: stored.post.referPostId });
    }
    return "ok" as const;
  });
  if (result === "missing") throw errors.notFound(ErrorReason.POST_NOT_FOUND, `no post ${postId}`, { post_id: postId });
  if (result === "forbidden") throw errors.permissionDenied(ErrorReason.NOT_POST_AUTHOR, "only the author may delete a post", { post_id: postId });
  await ctx.reader.invalidate([postId]);
}
