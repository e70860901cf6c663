/** VoidHold: the caller's pending hold is released; the drops stay with the caller. */
import { create } from "@bufbuild/protobuf";
import { VoidHoldResponseSchema, type VoidHoldRequest, type VoidHoldResponse } from "#gen/oasis/wallet/v1/wallet_service_pb.ts";
import type { WalletContext } from "../context.ts";
import { resolveHold } from "../domain/giving.ts";
import { State } from "../domain/ledger.ts";
import { toTransferMessage } from "../events.ts";
import { callerId } from "./deps.ts";
import { mapped } from "./errors.ts";

export function voidHold(ctx: WalletContext) {
  return {
    async voidHold(req: VoidHoldRequest): Promise<VoidHoldResponse> {
      const hold = await mapped(ctx.errors, () => resolveHold({ store: ctx.store, now: () => new Date() }, callerId(), req.holdId, "void"));
      return create(VoidHoldResponseSchema, { transfer: toTransferMessage(hold, State.voided) });
    },
  };
}
