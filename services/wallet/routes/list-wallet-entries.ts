/**
 * ListWalletEntries: the caller's history newest first, keyset-paged on the history
 * row's seq (one index range scan of wallet_entries joined to transfers by key).
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import { WalletEntrySchema, type WalletEntry } from "#gen/oasis/wallet/v1/wallet_pb.ts";
import { ListWalletEntriesResponseSchema, type ListWalletEntriesRequest, type ListWalletEntriesResponse } from "#gen/oasis/wallet/v1/wallet_service_pb.ts";
import type { WalletContext } from "../context.ts";
import { Kind, mintAccountId, State, type Transfer } from "../domain/ledger.ts";
import { callerId } from "./deps.ts";

/** One transfer from `owner`'s side: out is negative; a void moved nothing (0). */
export function entryFor(owner: bigint, t: Transfer): WalletEntry {
  const out = t.debitAccountId === owner;
  const other = out ? t.creditAccountId : t.debitAccountId;
  const state = t.kind === Kind.pending ? State.pending : t.kind === Kind.void ? State.voided : State.posted;
  const amount = t.kind === Kind.void ? 0n : out ? -t.amount : t.amount;
  return create(WalletEntrySchema, {
    transferId: t.id,
    amount,
    otherUserId: other === mintAccountId ? 0n : other,
    code: t.code,
    state,
    memo: t.memo,
    postId: t.postId,
    createTime: timestampFromDate(t.createdAt),
    holdId: t.pendingId ?? 0n,
  });
}

export function listWalletEntries(ctx: WalletContext) {
  return {
    async listWalletEntries(req: ListWalletEntriesRequest): Promise<ListWalletEntriesResponse> {
      const owner = callerId();
      const size = pageSize(req.pageSize, 20, 100);
      const scope = `entries:${owner}`;
      const after = decodePageToken(scope, req.pageToken);
      const rows = await ctx.store.entries(owner, size + 1, after ? (after[0] as bigint) : undefined);
      const page = rows.slice(0, size);
      return create(ListWalletEntriesResponseSchema, {
        entries: page.map((e) => entryFor(owner, e.transfer)),
        nextPageToken: rows.length > size ? encodePageToken(scope, [page.at(-1)!.seq]) : "",
      });
    },
  };
}
