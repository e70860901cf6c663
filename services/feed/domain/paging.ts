/**
 * Paging a timeline, pure (no I/O; the caller passes where ids and views come from):
 * a page takes the timeline's ids below the cursor (the skeleton), keeps the posts the
 * viewer may see, and refills from further down until it has `page_size` items or the
 * timeline ends; the page token is the last post id returned, scoped to the timeline.
 * The feed pages from Redis (pages.ts); the edge's page path from the window of ids one
 * Lua call returned (page-path/), so both give the same items and the same token.
 */
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";

/** Extra skeleton ids read per round, for posts the rules drop. */
export const overfetch = 1.5;
/** Refill rounds at most per page. */
export const maxRounds = 5;

export type TimelineKind = "ht" | "ut";
type MaybePromise<T> = T | Promise<T>;

/** Where a page's ids and views come from. */
export interface PageSource<V> {
  /** Up to `n` ids of the timeline below `below` (exclusive; undefined: from the top), newest first. */
  skeleton(below: bigint | undefined, n: number): MaybePromise<bigint[]>;
  /** What the viewer may see of `ids`, in order (fewer when rules drop some). */
  views(ids: readonly bigint[]): MaybePromise<V[]>;
  /** The post id of a view. */
  idOf(view: V): bigint;
}

/** Token scope of a timeline ("ht:<reader>", "ut:<author>"). */
export function scopeOf(kind: TimelineKind, owner: bigint): string {
  return `${kind}:${owner}`;
}

/** Page size asked for: default 20, at most 100. INVALID_ARGUMENT when negative. */
export function pageLimit(requested: number): number {
  return pageSize(requested, 20, 100);
}

/** The cursor of a page token (undefined for the first page). INVALID_ARGUMENT for a token of another timeline. */
export function cursorOf(kind: TimelineKind, owner: bigint, token: string): bigint | undefined {
  return decodePageToken(scopeOf(kind, owner), token)?.[0] as bigint | undefined;
}

/** Skeleton ids a round asks for when `missing` items are still needed. */
export function roundWant(missing: number): number {
  return Math.ceil(missing * overfetch) + 2;
}

/**
 * One page of at most `limit` views below `before`: at most `maxRounds` rounds, each
 * reading `roundWant` ids; `more` when the timeline goes on below the last item returned.
 */
export async function collectPage<V>(src: PageSource<V>, limit: number, before: bigint | undefined): Promise<{ items: V[]; more: boolean }> {
  const items: V[] = [];
  // A visible post examined but not returned: a next page exists without asking again.
  let leftover = false;
  for (let round = 0; round < maxRounds && items.length < limit; round++) {
    const want = roundWant(limit - items.length);
    const ids = await src.skeleton(before, want);
    if (ids.length === 0) break;
    for (const v of await src.views(ids)) {
      if (items.length === limit) {
        leftover = true;
        break;
      }
      items.push(v);
    }
    // Continue below what was examined; if the page filled, below the last item.
    before = items.length === limit ? src.idOf(items.at(-1)!) : ids.at(-1);
    if (ids.length < want) break; // the timeline ended
  }
  const last = items.at(-1);
  const more = items.length === limit && last !== undefined && (leftover || (await src.skeleton(src.idOf(last), 1)).length > 0);
  return { items, more };
}

/** The next page token: the last item's id in the timeline's scope, "" on the last page. */
export function nextToken(kind: TimelineKind, owner: bigint, lastId: bigint | undefined, more: boolean): string {
  return more && lastId !== undefined ? encodePageToken(scopeOf(kind, owner), [lastId]) : "";
}
