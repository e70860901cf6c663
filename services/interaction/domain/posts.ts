/**
 * The posts interaction acts on, and whether the caller may see them. Two ways, chosen
 * by OASIS_INTERACTION_DIRECT_VISIBILITY:
 * - direct (1, the default): interaction applies the shared rule itself
 *   (shared-rules/post-visibility.ts, as post, feed and notification do) over the post
 *   read as the service (post's Redis cache, no further hop), the author's private flag
 *   (identity, remembered 10 s in this process, as post remembers it) and the author's
 *   relationship to the caller (graph, one call asked as the author). The post read and
 *   the two others run at once when the author is known here (authors never change).
 *   The author's view also says whether the author mutes the caller, which the like
 *   carries in post_liked so notification needs no graph call of its own. For a public
 *   post of a public author only blocks matter, so with OASIS_INTERACTION_GRAPH_SETS the
 *   author's blocks and mutes are read from graph's small sets in Redis (one GET,
 *   shared-rules/graph-small-sets.ts peekBlocksAndMute) and graph is asked only when they
 *   are not cached or the post needs the follow flags. With OASIS_INTERACTION_POST_CACHE
 *   the post itself is read from post's cache in Redis (one GET,
 *   shared-rules/post-cache.ts peekPost: the entry post.GetPost would read, dropped by
 *   post after every change and before it answers, so a post deleted, taken down or
 *   hidden by a suspension just before is refused as GetPost refuses it) and post is
 *   asked only when the entry is not cached (design note 57).
 * - chained (0): post.GetPost as the caller; post asks identity and graph itself.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { asService, asUser } from "#kit/client.ts";
import { currentCaller } from "#kit/call-context.ts";
import { ErrorReason } from "#gen/oasis/interaction/v1/errors_pb.ts";
import type { Post } from "#gen/oasis/post/v1/post_pb.ts";
import { Visibility } from "#gen/oasis/post/v1/post_pb.ts";
import { canSee, type ViewerRelation } from "../../../shared-rules/post-visibility.ts";
import { peekBlocksAndMute } from "../../../shared-rules/graph-small-sets.ts";
import { peekPost } from "../../../shared-rules/post-cache.ts";
import type { InteractionContext } from "../context.ts";

/** Most entries of the post-author memo before it is cleared. */
const memoMax = 100_000;

/** A post the caller may see, and what its author is to the caller where it was read. */
export interface CheckedPost {
  readonly post: Post;
  /**
   * Whether the author mutes the caller, as graph answered the author (direct check
   * only); undefined when not read (chained check, or the caller is the author or a service).
   */
  readonly authorMuting?: boolean;
}

/**
 * The post, if the caller may see it, so this one check enforces "nobody interacts with a
 * post they cannot see". Records the post's author in posts_meta the first time (per
 * process). Errors: NOT_FOUND POST_NOT_FOUND (absent, deleted, taken down, its author
 * suspended, or not visible to the caller); others as post, identity or graph answer.
 */
export async function visiblePost(ctx: InteractionContext, postId: bigint): Promise<Post> {
  return (await checkedPost(ctx, postId)).post;
}

/** visiblePost, with the author's relationship to the caller when the direct check read it. */
export async function checkedPost(ctx: InteractionContext, postId: bigint): Promise<CheckedPost> {
  try {
    const checked = ctx.rt.config.directVisibility ? await directCheck(ctx, postId) : { post: (await ctx.post.getPost({ postId })).post! };
    const { post } = checked;
    if (ctx.postAuthors.get(post.postId) === undefined) {
      await ctx.store.upsertPostMeta(ctx.rt.db, post.postId, post.authorId);
      if (ctx.postAuthors.size > memoMax) ctx.postAuthors.clear();
      ctx.postAuthors.set(post.postId, post.authorId);
    }
    return checked;
  } catch (err) {
    if (ConnectError.from(err).code === Code.NotFound) {
      throw ctx.errors.notFound(ErrorReason.POST_NOT_FOUND, `no post ${postId} you can see`, { post_id: postId });
    }
    throw err;
  }
}

/** Thrown inside directCheck for a post the caller may not see; turned into POST_NOT_FOUND. */
const hidden = () => new ConnectError("not visible", Code.NotFound);

/** The direct check (see the module comment). Throws NotFound for what the caller may not see. */
async function directCheck(ctx: InteractionContext, postId: bigint): Promise<CheckedPost> {
  const viewer = currentCaller();
  const readPost = cachedOrGetPost(ctx, postId);
  const facts = (author: bigint) =>
    viewer.service || viewer.userId === author
      ? Promise.resolve(undefined)
      : Promise.all([ctx.authorPrivacy.of([author]).then((m) => m.get(author)!), viewer.userId === null ? Promise.resolve(undefined) : cachedOrAuthorsView(ctx, author, viewer.userId)]);
  const known = ctx.postAuthors.get(postId);
  let post: Post;
  let got: Awaited<ReturnType<typeof facts>>;
  if (known !== undefined) [post, got] = await Promise.all([readPost, facts(known)]);
  else {
    post = await readPost;
    got = await facts(post.authorId);
  }
  // Moderation and suspensions hide a post from every user (post's reader.ts does the same).
  if (post.takenDown || post.authorSuspended) {
    if (!viewer.service) throw hidden();
  }
  if (!got) return { post };
  const [isPrivate] = got;
  let view = got[1];
  // Blocks and mute alone decide only a public post of a public author.
  if (view?.blocksOnly && (isPrivate || (post.visibility !== Visibility.PUBLIC && post.visibility !== Visibility.UNSPECIFIED))) {
    view = await authorsView(ctx, post.authorId, viewer.userId!);
  }
  if (!canSee(post, viewer, isPrivate, view?.relation)) throw hidden();
  return { post, authorMuting: view?.muting };
}

/**
 * The post as post.GetPost asked as the service answers it: from post's cache in Redis
 * (OASIS_INTERACTION_POST_CACHE; a deleted post's tombstone throws NotFound as GetPost
 * does), else from post (which fills the cache for the next like).
 */
async function cachedOrGetPost(ctx: InteractionContext, postId: bigint): Promise<Post> {
  const cached = ctx.postRedis && (await peekPost(ctx.postRedis, postId));
  if (!cached) return (await ctx.post.getPost({ postId }, asService())).post!;
  if (cached.deleted) throw hidden();
  return cached.post;
}

/**
 * The author's blocks and mute of `user` from graph's small sets in Redis
 * (OASIS_INTERACTION_GRAPH_SETS) as a view with no follow flags (`blocksOnly`: enough for
 * a public post of a public author, the caller asks graph otherwise); graph asked as the
 * author (authorsView) when the switch is off or the entry is not cached.
 */
async function cachedOrAuthorsView(ctx: InteractionContext, author: bigint, user: bigint): Promise<{ relation: ViewerRelation | undefined; muting: boolean; blocksOnly?: true }> {
  const cached = ctx.graphRedis && (await peekBlocksAndMute(ctx.graphRedis, author, user));
  if (!cached) return authorsView(ctx, author, user);
  // The author's view turned to the user's: the author blocking the user is the user blocked by the author.
  return { relation: { following: false, followedBy: false, blocking: cached.blockedBy, blockedBy: cached.blocking }, muting: cached.muting, blocksOnly: true };
}

/**
 * The author's relationship to `user` (graph asked as the author), turned to the user's
 * point of view for the visibility rule, and whether the author mutes the user.
 */
async function authorsView(ctx: InteractionContext, author: bigint, user: bigint): Promise<{ relation: ViewerRelation | undefined; muting: boolean }> {
  const res = await ctx.graph.batchGetRelationships({ userIds: [user] }, asUser(author));
  const r = res.relationships.find((x) => x.userId === user);
  if (!r) return { relation: undefined, muting: false };
  return { relation: { following: r.followedBy, followedBy: r.following, blocking: r.blockedBy, blockedBy: r.blocking }, muting: r.muting };
}
