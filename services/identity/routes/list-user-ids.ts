/** ListUserIds (internal): every user id ascending, page_size 1-1000 (default 1000), keyset page_token. */
import type { ServiceImpl } from "@connectrpc/connect";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";

export function listUserIds(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "listUserIds"> {
  return {
    async listUserIds(req) {
      const limit = pageSize(req.pageSize, 1000, 1000);
      const after = (decodePageToken("user-ids", req.pageToken)?.[0] as bigint | undefined) ?? 0n;
      const ids = await ctx.store.userIdsAfter(ctx.rt.db, after, limit + 1);
      const page = ids.slice(0, limit);
      return { userIds: page, nextPageToken: ids.length > limit ? encodePageToken("user-ids", [page.at(-1)!]) : "" };
    },
  };
}
