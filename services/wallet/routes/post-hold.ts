/** PostHold: the caller's pending hold moves its drops to the payee. */
import { create } from "@bufbuild/protobuf";
import { PostHoldResponseSchema, type PostHoldRequest, type PostHoldResponse } from "#gen/oasis/wallet/v1/wallet_service_pb.ts";
import type { WalletContext } from "../context.ts";
import { resolveHold } from "../domain/giving.ts";
import { State } from "../domain/ledger.ts";
import { toTransferMessage } from "../events.ts";
import { callerId } from "./deps.ts";
import { mapped } from "./errors.ts";

export function postHold(ctx: WalletContext) {
  return {
    async postHold(req: PostHoldRequest): Promise<PostHoldResponse> {
      const hold = await mapped(ctx.errors, () => resolveHold({ store: ctx.store, now: () => new Date() }, callerId(), req.holdId, "post"));
      return create(PostHoldResponseSchema, { transfer: toTransferMessage(hold, State.posted) });
    },
  };
}
