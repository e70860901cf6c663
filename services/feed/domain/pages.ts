/**
 * A feed page: skeleton (ids from a timeline, keyset-paged by post id) -> views.ts
 * (hydrate, rules, present). The paging itself (refill rounds, the page token) is
 * paging.ts, shared with the edge's page path.
 */
import type { Caller } from "#kit/call-context.ts";
import type { PostView } from "#gen/oasis/feed/v1/feed_pb.ts";
import type { FeedContext } from "../context.ts";
import { collectPage, cursorOf, nextToken, pageLimit } from "./paging.ts";
import { views } from "./views.ts";

/**
 * One page of timeline `kind` ("ht" home, "ut" user) of `owner` for `viewer`, merged
 * with `merge` (ids from read-time sources below a post id, newest first). page_size
 * default 20, at most 100; at most 5 refill rounds. INVALID_ARGUMENT for a token of
 * another timeline.
 */
export async function feedPage(
  ctx: FeedContext,
  viewer: Caller,
  kind: "ht" | "ut",
  owner: bigint,
  size: number,
  token: string,
  merge: (before: bigint | undefined, n: number) => Promise<bigint[]>,
): Promise<{ items: PostView[]; nextPageToken: string }> {
  const limit = pageLimit(size);
  const before = cursorOf(kind, owner, token);
  const { items, more } = await collectPage<PostView>(
    {
      /** The timeline's ids below `below`, merged with the read-time sources, newest first. */
      async skeleton(below, n) {
        const [own, extra] = await Promise.all([ctx.timelines.page(kind, owner, below, n), merge(below, n)]);
        return [...new Set([...own.ids, ...extra])].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)).slice(0, n);
      },
      views: (ids) => views(ctx, viewer, ids),
      idOf: (v) => v.post!.postId,
    },
    limit,
    before,
  );
  return { items, nextPageToken: nextToken(kind, owner, items.at(-1)?.post!.postId, more) };
}
