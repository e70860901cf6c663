/**
 * One page of hydrated results from a ranked engine: hits are fetched past what the
 * rules may drop (hidden from the viewer, muted), refilled from further down until the
 * page has `limit` items or the ranking ends, and the page token is the engine cursor of
 * the last item returned, so the next page starts right after it (no duplicates).
 */
import { decodePageToken, encodePageToken } from "#kit/page-token.ts";
import type { Cursor, Hit } from "./engine.ts";

/** Extra hits read per page, for results the rules drop. */
const overfetch = 1.5;
/** Engine rounds per page at most (a viewer who may see almost nothing gets a short page). */
const maxRounds = 5;

export async function page<T>(opts: {
  /** Binds the token to the request's parameters. */
  scope: string;
  token: string;
  limit: number;
  fetch: (cursor: Cursor | undefined, n: number) => Promise<Hit[]>;
  /** Results for hits, in order, leaving out what the viewer may not see. */
  present: (ids: bigint[]) => Promise<Array<{ id: bigint; item: T }>>;
}): Promise<{ items: T[]; nextPageToken: string }> {
  let cursor: Cursor | undefined = decodePageToken(opts.scope, opts.token);
  const items: T[] = [];
  let leftover = false; // a visible hit beyond the page: a next page exists
  let exhausted = false; // the engine has nothing after `cursor`
  for (let round = 0; round < maxRounds && items.length < opts.limit; round++) {
    const want = Math.ceil((opts.limit - items.length) * overfetch) + 1;
    const hits = await opts.fetch(cursor, want);
    // Present the hits in chunks of what the page still needs plus one (the one tells
    // whether a next page exists): hydrating hits the page will not use costs more than
    // the engine query that found them.
    for (let i = 0; i < hits.length && !leftover; ) {
      const chunk = hits.slice(i, i + opts.limit - items.length + 1);
      i += chunk.length;
      const shown = new Map((await opts.present(chunk.map((h) => h.id))).map((r) => [r.id, r.item]));
      for (const hit of chunk) {
        const item = shown.get(hit.id);
        if (item !== undefined && items.length === opts.limit) {
          leftover = true;
          break;
        }
        if (item !== undefined) items.push(item);
        cursor = hit.cursor;
      }
    }
    if (hits.length < want && !leftover) {
      exhausted = true;
      break;
    }
  }
  const more = leftover || (!exhausted && (items.length < opts.limit || (await opts.fetch(cursor, 1)).length > 0));
  return { items, nextPageToken: more && cursor ? encodePageToken(opts.scope, [...cursor]) : "" };
}
