/** TipPost: drops to the author of a post the caller can see (domain/giving.ts). */
import { create } from "@bufbuild/protobuf";
import { TipPostResponseSchema, type TipPostRequest, type TipPostResponse } from "#gen/oasis/wallet/v1/wallet_service_pb.ts";
import type { WalletContext } from "../context.ts";
import { give } from "../domain/giving.ts";
import { Code, State } from "../domain/ledger.ts";
import { toTransferMessage } from "../events.ts";
import { callerId, givingDeps } from "./deps.ts";
import { mapped } from "./errors.ts";

export function tipPost(ctx: WalletContext) {
  const deps = givingDeps(ctx);
  return {
    async tipPost(req: TipPostRequest): Promise<TipPostResponse> {
      const t = await mapped(ctx.errors, () =>
        give(deps, { payerId: callerId(), payeeId: 0n, amount: req.amount, memo: "", requestId: req.requestId, code: Code.tip, postId: req.postId, timeoutSeconds: 0 }),
      );
      return create(TipPostResponseSchema, { transfer: toTransferMessage(t, State.posted) });
    },
  };
}
