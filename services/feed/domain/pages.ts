/**
 * A feed page: skeleton (ids from a timeline, keyset-paged by post id) -> views.ts
 * (hydrate, rules, present). Posts the viewer may not see are dropped after the
 * skeleton, so a page is refilled from further down the timeline until it has
 * `page_size` items or the timeline ends; the page token is the last post id returned.
 */
import type { Caller } from "#kit/call-context.ts";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import type { PostView } from "#gen/oasis/feed/v1/feed_pb.ts";
import type { FeedContext } from "../context.ts";
import { views } from "./views.ts";

/** Extra skeleton ids read per page, for posts the rules drop. */
const overfetch = 1.5;

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
  const scope = `${kind}:${owner}`;
  const limit = pageSize(size, 20, 100);
  let before = decodePageToken(scope, token)?.[0] as bigint | undefined;
  const items: PostView[] = [];
  // A visible post examined but not returned: a next page exists without asking Redis.
  let leftover = false;
  for (let round = 0; round < 5 && items.length < limit; round++) {
    const want = Math.ceil((limit - items.length) * overfetch) + 2;
    const ids = await skeleton(before, want);
    if (ids.length === 0) break;
    for (const v of await views(ctx, viewer, ids)) {
      if (items.length === limit) {
        leftover = true;
        break;
      }
      items.push(v);
    }
    // Continue below what was examined; if the page filled, below the last item.
    before = items.length === limit ? items.at(-1)!.post!.postId : ids.at(-1);
    if (ids.length < want) break; // the timeline ended
  }
  const last = items.at(-1);
  // A next page exists if the timeline goes on below the last item returned.
  const more = items.length === limit && last !== undefined && (leftover || (await skeleton(last.post!.postId, 1)).length > 0);
  return { items, nextPageToken: more ? encodePageToken(scope, [last!.post!.postId]) : "" };

  /** The timeline's ids below `below`, merged with the read-time sources, newest first. */
  async function skeleton(below: bigint | undefined, n: number): Promise<bigint[]> {
    const [own, extra] = await Promise.all([ctx.timelines.page(kind, owner, below, n), merge(below, n)]);
    return [...new Set([...own.ids, ...extra])].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)).slice(0, n);
  }
}
