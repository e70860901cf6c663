/** Transfer: a gift of drops to another user (domain/giving.ts). */
import { create } from "@bufbuild/protobuf";
import { TransferResponseSchema, type TransferRequest, type TransferResponse } from "#gen/oasis/wallet/v1/wallet_service_pb.ts";
import type { WalletContext } from "../context.ts";
import { give } from "../domain/giving.ts";
import { Code, State } from "../domain/ledger.ts";
import { toTransferMessage } from "../events.ts";
import { callerId, givingDeps } from "./deps.ts";
import { mapped } from "./errors.ts";

export function transfer(ctx: WalletContext) {
  const deps = givingDeps(ctx);
  return {
    async transfer(req: TransferRequest): Promise<TransferResponse> {
      const t = await mapped(ctx.errors, () =>
        give(deps, { payerId: callerId(), payeeId: req.toUserId, amount: req.amount, memo: req.memo, requestId: req.requestId, code: Code.gift, postId: 0n, timeoutSeconds: 0 }),
      );
      return create(TransferResponseSchema, { transfer: toTransferMessage(t, State.posted) });
    },
  };
}
