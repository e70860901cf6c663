/** GetWallet: the caller's balance, pending holds, earned and given today (drops). */
import { create } from "@bufbuild/protobuf";
import { GetWalletResponseSchema, type GetWalletRequest, type GetWalletResponse } from "#gen/oasis/wallet/v1/wallet_service_pb.ts";
import type { WalletContext } from "../context.ts";
import { walletOf } from "../domain/wallet.ts";
import { callerId } from "./deps.ts";

export function getWallet(ctx: WalletContext) {
  return {
    async getWallet(_req: GetWalletRequest): Promise<GetWalletResponse> {
      const w = await walletOf(ctx.store, callerId(), new Date());
      return create(GetWalletResponseSchema, { wallet: w });
    },
  };
}
