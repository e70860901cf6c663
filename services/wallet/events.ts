/**
 * What wallet publishes (through the outbox, in the ledger's transaction) and consumes:
 * account_created pays the welcome grant, session_created the day's first sign-in,
 * post_created pays the author, post_liked and comment_created pay the post's author.
 * Earnings are idempotent by their derived transfer id, so redelivered events earn
 * nothing twice (no processed_events row needed).
 */
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { on } from "#kit/consumer.ts";
import type { Outbox } from "#kit/outbox.ts";
import { AccountCreatedSchema, SessionCreatedSchema } from "#gen/oasis/identity/v1/events_pb.ts";
import { CommentCreatedSchema, PostLikedSchema } from "#gen/oasis/interaction/v1/events_pb.ts";
import { PostCreatedSchema } from "#gen/oasis/post/v1/events_pb.ts";
import { HoldCreatedSchema, HoldVoidedSchema, TransferPostedSchema } from "#gen/oasis/wallet/v1/events_pb.ts";
import { TransferSchema, type Transfer as TransferMessage } from "#gen/oasis/wallet/v1/wallet_pb.ts";
import type { WalletContext } from "./context.ts";
import { earn } from "./domain/earning.ts";
import { Code, mintAccountId, State, utcDay, type Transfer, type TransferState } from "./domain/ledger.ts";
import type { LedgerEvents } from "./store.ts";

/** A ledger transfer as the API shows it (the mint is user 0). */
export function toTransferMessage(t: Transfer, state: TransferState): TransferMessage {
  return create(TransferSchema, {
    transferId: t.id,
    fromUserId: t.debitAccountId === mintAccountId ? 0n : t.debitAccountId,
    toUserId: t.creditAccountId,
    amount: t.amount,
    code: t.code,
    state,
    memo: t.memo,
    postId: t.postId,
    createTime: timestampFromDate(t.createdAt),
    expireTime: t.expiresAt ? timestampFromDate(t.expiresAt) : undefined,
  });
}

/** The outbox events of the ledger's writes. */
export function ledgerEvents(outbox: () => Outbox): LedgerEvents {
  return {
    posted: async (tx, t) => void (await outbox().add(tx, TransferPostedSchema, { transfer: toTransferMessage(t, State.posted) })),
    holdCreated: async (tx, t) => void (await outbox().add(tx, HoldCreatedSchema, { transfer: toTransferMessage(t, State.pending) })),
    holdVoided: async (tx, t, expired) => void (await outbox().add(tx, HoldVoidedSchema, { transfer: toTransferMessage(t, State.voided), expired })),
  };
}

const at = (ms: number) => new Date(ms || Date.now());

export function identityConsumer(ctx: WalletContext) {
  return {
    name: "wallet-identity",
    handlers: [
      on(AccountCreatedSchema, async (e, meta) => {
        await earn(ctx.store, ctx.rules, { userId: e.userId, code: Code.earnWelcome, key: [e.userId], postId: 0n, at: at(meta.occurredAtMs) });
      }),
      on(SessionCreatedSchema, async (e, meta) => {
        // Keyed by (user, UTC day of the sign-in): the day's later sign-ins and a
        // redelivery derive the same transfer id and earn nothing more.
        const when = e.createTime ? timestampDate(e.createTime) : at(meta.occurredAtMs);
        await earn(ctx.store, ctx.rules, { userId: e.userId, code: Code.earnSignIn, key: [e.userId, utcDay(when)], postId: 0n, at: when });
      }),
    ],
  };
}

export function postConsumer(ctx: WalletContext) {
  return {
    name: "wallet-posts",
    handlers: [
      on(PostCreatedSchema, async (e, meta) => {
        const post = e.post!;
        await earn(ctx.store, ctx.rules, { userId: post.authorId, code: Code.earnPost, key: [post.postId], postId: post.postId, at: at(meta.occurredAtMs) });
      }),
    ],
  };
}

export function interactionConsumer(ctx: WalletContext) {
  return {
    name: "wallet-interactions",
    handlers: [
      on(PostLikedSchema, async (e, meta) => {
        if (e.userId === e.postAuthorId) return;
        // Keyed by (post, liker): unlike and like again earns nothing more.
        await earn(ctx.store, ctx.rules, { userId: e.postAuthorId, code: Code.earnLike, key: [e.postId, e.userId], postId: e.postId, at: at(meta.occurredAtMs) });
      }),
      on(CommentCreatedSchema, async (e, meta) => {
        const c = e.comment!;
        if (c.authorId === e.postAuthorId) return;
        await earn(ctx.store, ctx.rules, { userId: e.postAuthorId, code: Code.earnComment, key: [c.commentId], postId: c.postId, at: at(meta.occurredAtMs) });
      }),
    ],
  };
}
