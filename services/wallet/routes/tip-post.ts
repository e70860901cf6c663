/** TipPost: drops to the author of a post the caller can see, held until the author is confirmed active (domain/giving.ts tip). */
import { create } from "@bufbuild/protobuf";
import { TipPostResponseSchema, type TipPostRequest, type TipPostResponse } from "#gen/oasis/wallet/v1/wallet_service_pb.ts";
import type { WalletContext } from "../context.ts";
import { tip } from "../domain/giving.ts";
import { State } from "../domain/ledger.ts";
import { toTransferMessage } from "../events.ts";
import { callerId, givingDeps } from "./deps.ts";
import { mapped } from "./errors.ts";

export function tipPost(ctx: WalletContext) {
  const deps = givingDeps(ctx);
  return {
    async tipPost(req: TipPostRequest): Promise<TipPostResponse> {
      const t = await mapped(ctx.errors, () => tip(deps, { payerId: callerId(), postId: req.postId, amount: req.amount, requestId: req.requestId }));
      return create(TipPostResponseSchema, { transfer: toTransferMessage(t, State.posted) });
    },
  };
}
