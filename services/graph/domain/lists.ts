/** Pages of follow lists (followers, following, mutual fans) for the List* RPCs. */
import { idTimeMs } from "#kit/ids.ts";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import type { GraphContext } from "../context.ts";
import { checkListVisible } from "./relations.ts";

/** One listed user and when the edge was made (ms since the epoch). */
export interface ListedEdge {
  readonly edgeId: bigint;
  readonly userId: bigint;
  readonly createdMs: number;
}

/**
 * A page of a follow list, newest first, keyset on the edge id: from the cached list,
 * or from MySQL when the list is too long to cache. Follow times come from the edge
 * ids (time-ordered, kit/ids.ts). `size` is page_size (default 50, at most 1000).
 * Errors: those of checkListVisible; INVALID_ARGUMENT for a token of another list.
 */
export async function listPage(
  ctx: GraphContext,
  kind: "followers" | "following" | "mutual",
  owner: bigint,
  size: number,
  token: string,
): Promise<{ edges: ListedEdge[]; nextPageToken: string }> {
  await checkListVisible(ctx, owner);
  const scope = `${kind}:${owner}`;
  const limit = pageSize(size, 50, 1000);
  const before = decodePageToken(scope, token)?.[0] as bigint | undefined;
  let rows: ListedEdge[];
  if (kind === "mutual") {
    const [followers, following] = await Promise.all([ctx.cache.list("followers", owner), ctx.cache.list("following", owner)]);
    if (followers && following) {
      const followEdge = new Map(following.page(undefined, following.length).map((e) => [e.userId, e.edgeId]));
      rows = [];
      for (const e of followers.page(before, followers.length)) {
        const back = followEdge.get(e.userId);
        if (back === undefined) continue;
        rows.push({ edgeId: e.edgeId, userId: e.userId, createdMs: Math.max(idTimeMs(e.edgeId), idTimeMs(back)) });
        if (rows.length > limit) break;
      }
    } else {
      rows = (await ctx.store.mutualPage(ctx.rt.db, owner, before, limit + 1)).map((r) => ({ edgeId: r.id, userId: r.userId, createdMs: r.createdAt.getTime() }));
    }
  } else {
    const list = await ctx.cache.list(kind, owner);
    rows = list
      ? list.page(before, limit + 1).map((e) => ({ ...e, createdMs: idTimeMs(e.edgeId) }))
      : (await ctx.store.edgePage(ctx.rt.db, kind, owner, before, limit + 1)).map((r) => ({
          edgeId: r.id,
          userId: r.userId,
          createdMs: r.createdAt.getTime(),
        }));
  }
  const page = rows.slice(0, limit);
  return { edges: page, nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.edgeId]) : "" };
}
