/**
 * The events that fill inboxes: follows and follow requests (graph), likes, comments
 * and replies (interaction), mentions and refer-tos (post), chat messages (chat: only the
 * event's notify_user_ids, so never for a muted convo). Each event is turned into
 * deliveries, filtered by the recipients' wishes, and written in one transaction that
 * also records the event id (kit applyOnce), so a redelivered event never notifies twice.
 * After commit, live streams are told.
 */
import { applyAllOnceBatched, applyOnce, applyOnceBatched, on, type EventMeta } from "#kit/consumer.ts";
import { TurnBatches } from "#kit/tx-batcher.ts";
import { MessageSentSchema } from "#gen/oasis/chat/v1/events_pb.ts";
import { FollowCreatedSchema, FollowRequestedSchema } from "#gen/oasis/graph/v1/events_pb.ts";
import { CommentCreatedSchema, PostLikedSchema } from "#gen/oasis/interaction/v1/events_pb.ts";
import { NotificationKind } from "#gen/oasis/notification/v1/notification_pb.ts";
import { PostCreatedSchema } from "#gen/oasis/post/v1/events_pb.ts";
import type { NotificationContext } from "./context.ts";
import { authorOf, visibleTo, wanted } from "./domain/deliveries.ts";
import type { Delivery } from "./domain/model.ts";
import { snippet } from "./domain/rules.ts";

/**
 * Filters `candidates` (domain/deliveries.ts wanted) and stores them once per event, in
 * two round trips (store deliverBatched) unless OASIS_NOTIFICATION_BATCHED_WRITES=0 or
 * two of them join the same group; tells live streams after commit.
 */
export async function record(ctx: NotificationContext, consumer: string, meta: EventMeta, candidates: Delivery[]): Promise<void> {
  const deliveries = await wanted(ctx, candidates);
  const changed: Array<[bigint, bigint]> = [];
  const groups = new Set(deliveries.map((d) => `${d.recipientId}/${d.groupKey}`));
  if (ctx.rt.config.batchedWrites && groups.size === deliveries.length) {
    await applyOnceBatched(ctx.rt.db, consumer, meta.eventId, async (tx, claim) => {
      changed.length = 0; // a retried transaction starts over
      changed.push(...(await ctx.store.deliverBatched(tx, claim, deliveries, () => ctx.rt.ids.next())));
    });
    for (const [recipient, id] of changed) ctx.live.publish(recipient, id);
    return;
  }
  await applyOnce(ctx.rt.db, consumer, meta.eventId, async (tx) => {
    for (const d of deliveries) {
      const id = await ctx.store.deliver(tx, d, () => ctx.rt.ids.next());
      if (id !== undefined) changed.push([d.recipientId, id]);
    }
  });
  for (const [recipient, id] of changed) ctx.live.publish(recipient, id);
}

/** One event's candidate deliveries waiting for a group commit. */
interface Pending {
  readonly meta: EventMeta;
  readonly candidates: Delivery[];
  readonly done: { resolve(): void; reject(err: unknown): void };
}

/**
 * Group commit for one consumer: the events its handlers hand in while a commit is under
 * way are stored together in the next one (store.ts deliverGroupSet, or deliverGroup
 * with OASIS_NOTIFICATION_SET_COMMIT=0: two round trips for all of them, one BatchGetRelationships per distinct recipient across them, not per
 * event), at most `max` events a commit and two commits at a time. Each handler's
 * promise settles with its event's commit, so acks still follow the writes. Anything the
 * batch cannot take (an event already applied, a failed commit) is redone event by event
 * through `record`, which skips what was applied and fails only the event at fault.
 * OASIS_NOTIFICATION_GROUP_COMMIT sets `max` (0: every event alone, as before).
 */
export class GroupCommit {
  /** Handlers started together go in one commit; two commits at most run at once (kit TurnBatches). */
  private readonly batches: TurnBatches<Pending>;

  constructor(
    private readonly ctx: NotificationContext,
    private readonly consumer: string,
    private readonly max: number,
  ) {
    this.batches = new TurnBatches(Math.max(1, max), 2, (batch) => this.commit(batch));
  }

  /** Stores `candidates` (filtered as `record` does) for the event `meta`; resolves after its commit. */
  add(meta: EventMeta, candidates: Delivery[]): Promise<void> {
    if (this.max <= 0) return record(this.ctx, this.consumer, meta, candidates);
    return new Promise<void>((resolve, reject) => this.batches.push({ meta, candidates, done: { resolve, reject } }));
  }

  private async commit(batch: Pending[]): Promise<void> {
    const { ctx } = this;
    let stored = false;
    const live: Array<[bigint, bigint]> = [];
    try {
      const keep = new Set(await wanted(ctx, batch.flatMap((p) => p.candidates)));
      const deliveries = batch.flatMap((p) => p.candidates.filter((d) => keep.has(d)));
      stored = await applyAllOnceBatched(
        ctx.rt.db,
        this.consumer,
        batch.map((p) => p.meta.eventId),
        async (tx, claim) => {
          live.length = 0; // a retried transaction starts over
          const write = ctx.rt.config.setCommit ? ctx.store.deliverGroupSet : ctx.store.deliverGroup;
          const ids = await write(tx, claim, deliveries, () => ctx.rt.ids.next());
          const told = new Set<bigint>();
          ids.forEach((id, i) => {
            if (id === undefined || told.has(id)) return;
            told.add(id);
            live.push([deliveries[i]!.recipientId, id]);
          });
        },
      );
    } catch {
      stored = false;
    }
    if (stored) {
      for (const [recipient, id] of live) ctx.live.publish(recipient, id);
      for (const p of batch) p.done.resolve();
      return;
    }
    await Promise.all(batch.map((p) => record(ctx, this.consumer, p.meta, p.candidates).then(p.done.resolve, p.done.reject)));
  }
}

const base = { postId: 0n, commentId: 0n, text: "" };

export function consumers(ctx: NotificationContext) {
  const { groupCommit, consumerConcurrency } = ctx.rt.config;
  const graphCommit = new GroupCommit(ctx, "notification-graph", groupCommit);
  const interactionCommit = new GroupCommit(ctx, "notification-interaction", groupCommit);
  // With group commit, as many events in flight as a commit takes.
  const concurrency = Math.max(consumerConcurrency, groupCommit);
  return [
    {
      name: "notification-graph",
      concurrency,
      handlers: [
        on(FollowCreatedSchema, (e, meta) =>
          graphCommit.add(meta, [
            {
              ...base,
              recipientId: e.followeeId,
              actorId: e.followerId,
              kind: NotificationKind.FOLLOW,
              groupKey: "follow",
              ...(e.followeeMuting !== undefined && { knownRelation: { muting: e.followeeMuting } }),
            },
          ]),
        ),
        on(FollowRequestedSchema, (e, meta) =>
          record(ctx, "notification-graph", meta, [{ ...base, recipientId: e.targetId, actorId: e.requesterId, kind: NotificationKind.FOLLOW_REQUEST, groupKey: "request" }]),
        ),
      ],
    },
    {
      name: "notification-interaction",
      concurrency,
      handlers: [
        on(PostLikedSchema, (e, meta) =>
          interactionCommit.add(meta, [
            {
              ...base,
              recipientId: e.postAuthorId,
              actorId: e.userId,
              kind: NotificationKind.LIKE,
              groupKey: `like:${e.postId}`,
              postId: e.postId,
              ...(e.authorMuting !== undefined && { knownRelation: { muting: e.authorMuting } }),
            },
          ]),
        ),
        on(CommentCreatedSchema, async (e, meta) => {
          const c = e.comment!;
          const text = snippet(c.text);
          const out: Delivery[] = [
            { recipientId: e.postAuthorId, actorId: c.authorId, kind: NotificationKind.COMMENT, groupKey: `comment:${c.postId}`, postId: c.postId, commentId: c.commentId, text },
          ];
          if (e.parentAuthorId) {
            out.push({ recipientId: e.parentAuthorId, actorId: c.authorId, kind: NotificationKind.REPLY, groupKey: `reply:${c.parentCommentId}`, postId: c.postId, commentId: c.commentId, text });
          }
          const seeing = await visibleTo(ctx, c.postId, c.mentionUserIds);
          for (const m of c.mentionUserIds) {
            if (seeing.has(m)) {
              out.push({ recipientId: m, actorId: c.authorId, kind: NotificationKind.MENTION, groupKey: `mention:c:${c.commentId}`, postId: c.postId, commentId: c.commentId, text });
            }
          }
          await record(ctx, "notification-interaction", meta, out);
        }),
      ],
    },
    {
      name: "notification-post",
      concurrency: ctx.rt.config.consumerConcurrency,
      handlers: [
        on(PostCreatedSchema, async (e, meta) => {
          const p = e.post!;
          const text = snippet(p.caption);
          const out: Delivery[] = [];
          const seeing = await visibleTo(ctx, p.postId, p.mentions.map((m) => m.userId));
          for (const m of p.mentions) {
            if (seeing.has(m.userId)) {
              out.push({ recipientId: m.userId, actorId: p.authorId, kind: NotificationKind.MENTION, groupKey: `mention:p:${p.postId}`, postId: p.postId, commentId: 0n, text });
            }
          }
          if (p.referPostId) {
            const author = await authorOf(ctx, p.referPostId);
            out.push({ recipientId: author, actorId: p.authorId, kind: NotificationKind.REFER, groupKey: `refer:${p.referPostId}`, postId: p.referPostId, commentId: 0n, text });
          }
          if (out.length) await record(ctx, "notification-post", meta, out);
        }),
      ],
    },
    {
      name: "notification-chat",
      concurrency: ctx.rt.config.consumerConcurrency,
      handlers: [
        on(MessageSentSchema, (e, meta) => {
          const m = e.message!;
          const text = snippet(m.text || "📷");
          return record(
            ctx,
            "notification-chat",
            meta,
            e.notifyUserIds.map((r) => ({ ...base, recipientId: r, actorId: m.senderId, kind: NotificationKind.MESSAGE, groupKey: `message:${m.convoId}`, text })),
          );
        }),
      ],
    },
  ];
}
