/** CreateHold: reserves drops for another user until posted, voided or expired. */
import { create } from "@bufbuild/protobuf";
import { CreateHoldResponseSchema, type CreateHoldRequest, type CreateHoldResponse } from "#gen/oasis/wallet/v1/wallet_service_pb.ts";
import type { WalletContext } from "../context.ts";
import { give } from "../domain/giving.ts";
import { Code, State } from "../domain/ledger.ts";
import { toTransferMessage } from "../events.ts";
import { callerId, givingDeps } from "./deps.ts";
import { mapped } from "./errors.ts";

export function createHold(ctx: WalletContext) {
  const deps = givingDeps(ctx);
  return {
    async createHold(req: CreateHoldRequest): Promise<CreateHoldResponse> {
      const t = await mapped(ctx.errors, () =>
        give(deps, {
          payerId: callerId(),
          payeeId: req.toUserId,
          amount: req.amount,
          memo: req.memo,
          requestId: req.requestId,
          code: Code.hold,
          postId: 0n,
          timeoutSeconds: req.timeoutSeconds,
        }),
      );
      return create(CreateHoldResponseSchema, { transfer: toTransferMessage(t, State.pending) });
    },
  };
}
