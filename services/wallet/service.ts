/** WalletService: the route modules merged (one file per RPC under routes/). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { WalletService } from "#gen/oasis/wallet/v1/wallet_service_pb.ts";
import type { Auditor } from "./audit.ts";
import type { WalletContext } from "./context.ts";
import { auditLedger } from "./routes/audit-ledger.ts";
import { createHold } from "./routes/create-hold.ts";
import { getWallet } from "./routes/get-wallet.ts";
import { listWalletEntries } from "./routes/list-wallet-entries.ts";
import { postHold } from "./routes/post-hold.ts";
import { tipPost } from "./routes/tip-post.ts";
import { transfer } from "./routes/transfer.ts";
import { voidHold } from "./routes/void-hold.ts";

export function walletService(ctx: WalletContext, auditor: Auditor): ServiceImpl<typeof WalletService> {
  return {
    ...getWallet(ctx),
    ...listWalletEntries(ctx),
    ...transfer(ctx),
    ...tipPost(ctx),
    ...createHold(ctx),
    ...postHold(ctx),
    ...voidHold(ctx),
    ...auditLedger(auditor),
  };
}
