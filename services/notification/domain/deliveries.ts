/**
 * From domain events to deliveries, with the rules applied before anything is stored:
 * never about a user's own action; never from someone the recipient blocks or mutes (or
 * who blocks them); mentions only for recipients who may see the post. Each rule asks
 * its source once per event, not once per delivery: one BatchGetRelationships per
 * distinct recipient (the recipient's own view: only it shows whom they mute), and for
 * mentions one post read, one profile read and one BatchGetRelationships as the author,
 * judged by the shared visibility rule (shared-rules/post-visibility.ts), as feed does.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { asService, asUser } from "#kit/client.ts";
import { inParallel } from "#kit/parallel.ts";
import type { Relationship } from "#gen/oasis/graph/v1/graph_pb.ts";
import type { Post } from "#gen/oasis/post/v1/post_pb.ts";
import { canSee, type ViewerRelation } from "../../../shared-rules/post-visibility.ts";
import type { NotificationContext } from "../context.ts";
import type { Delivery } from "./model.ts";

/** Relationship calls in flight for one event (recipients of a group message, at most 9). */
const relationshipConcurrency = 8;

/**
 * Keeps the deliveries whose recipient wants to hear from the actor, in order: one
 * BatchGetRelationships per distinct recipient (made as that recipient) for all its actors,
 * except for deliveries whose event carried the relationship (`knownRelation`, used while
 * OASIS_NOTIFICATION_EVENT_RELATIONS is on): those are judged by it, with no call.
 */
export async function wanted(ctx: NotificationContext, deliveries: readonly Delivery[]): Promise<Delivery[]> {
  const candidates = deliveries.filter((d) => d.recipientId !== d.actorId && d.recipientId !== 0n);
  const trustEvent = ctx.rt.config.eventRelations;
  const actorsOf = new Map<bigint, Set<bigint>>();
  for (const d of candidates) {
    if (trustEvent && d.knownRelation) continue;
    actorsOf.set(d.recipientId, (actorsOf.get(d.recipientId) ?? new Set()).add(d.actorId));
  }
  const rels = new Map<bigint, Map<bigint, Relationship>>();
  await inParallel([...actorsOf], relationshipConcurrency, async ([recipient, actors]) => {
    const r = await ctx.graph.batchGetRelationships({ userIds: [...actors] }, asUser(recipient));
    rels.set(recipient, new Map(r.relationships.map((x) => [x.userId, x])));
  });
  return candidates.filter((d) => {
    if (trustEvent && d.knownRelation) return !d.knownRelation.muting;
    const rel = rels.get(d.recipientId)?.get(d.actorId);
    return !(rel?.blocking || rel?.muting || rel?.blockedBy);
  });
}

/** The post as the service reads it, or undefined when it is gone. */
async function postOf(ctx: NotificationContext, postId: bigint): Promise<Post | undefined> {
  try {
    return (await ctx.post.getPost({ postId }, asService())).post;
  } catch (err) {
    if (ConnectError.from(err).code === Code.NotFound) return undefined;
    throw err;
  }
}

/**
 * Which of `userIds` may see the post (`post`, or read by id): the shared rule over the
 * author's private flag and the author's relationships to them, turned to each user's
 * point of view. Three calls at most, whatever the number of users.
 */
export async function visibleTo(ctx: NotificationContext, postOrId: Post | bigint, userIds: readonly bigint[]): Promise<Set<bigint>> {
  const ids = [...new Set(userIds)];
  if (ids.length === 0) return new Set();
  const post = typeof postOrId === "bigint" ? await postOf(ctx, postOrId) : postOrId;
  if (!post) return new Set();
  const [profiles, rels] = await Promise.all([
    ctx.identity.batchGetProfiles({ userIds: [post.authorId] }, asService()),
    ctx.graph.batchGetRelationships({ userIds: ids }, asUser(post.authorId)),
  ]);
  const authorPrivate = profiles.profiles.find((p) => p.userId === post.authorId)?.private ?? true;
  const fromAuthor = new Map(rels.relationships.map((r) => [r.userId, r]));
  const out = new Set<bigint>();
  for (const id of ids) {
    const r = fromAuthor.get(id);
    // The author's view of `id`, turned around: what `id` is to the author.
    const viewer: ViewerRelation | undefined = r && { following: r.followedBy, followedBy: r.following, blocking: r.blockedBy, blockedBy: r.blocking };
    if (canSee(post, { userId: id, fromMesh: true, service: false }, authorPrivate, viewer)) out.add(id);
  }
  return out;
}

/** The author of a post (for refer notifications), or 0 if it is gone. */
export async function authorOf(ctx: NotificationContext, postId: bigint): Promise<bigint> {
  return (await postOf(ctx, postId))?.authorId ?? 0n;
}
