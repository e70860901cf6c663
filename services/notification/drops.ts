/**
 * "X gave you N drops": wallet's transfer_posted events between users (gifts, tips,
 * posted holds; earnings come from the mint and notify nobody) become one DROPS
 * notification each, never grouped (group key per transfer), with the usual rules
 * (no notification from someone the payee blocks or mutes) and once per event.
 */
import { on } from "#kit/consumer.ts";
import { NotificationKind } from "#gen/oasis/notification/v1/notification_pb.ts";
import { TransferPostedSchema } from "#gen/oasis/wallet/v1/events_pb.ts";
import { TransferCode } from "#gen/oasis/wallet/v1/wallet_pb.ts";
import type { NotificationContext } from "./context.ts";
import { snippet } from "./domain/rules.ts";
import { record } from "./events.ts";

export function dropsConsumer(ctx: NotificationContext) {
  const name = "notification-wallet";
  return {
    name,
    concurrency: ctx.rt.config.consumerConcurrency,
    handlers: [
      on(TransferPostedSchema, async (e, meta) => {
        const t = e.transfer!;
        if (t.fromUserId === 0n) return;
        const what = `${t.amount} drop${t.amount === 1n ? "" : "s"}`;
        const text = t.code === TransferCode.TIP ? `${what} for your post` : t.memo ? `${what}: ${t.memo}` : what;
        await record(ctx, name, meta, [
          { recipientId: t.toUserId, actorId: t.fromUserId, kind: NotificationKind.DROPS, groupKey: `drops:${t.transferId}`, postId: t.postId, commentId: 0n, text: snippet(text) },
        ]);
      }),
    ],
  };
}
