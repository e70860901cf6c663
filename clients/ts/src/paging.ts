/**
 * Paging over the AIP-158 list methods (`page_size`, `page_token` in the request;
 * `next_page_token` in the response, empty on the last page): `pages` yields each
 * response, `items` each element of one repeated field of them, fetching the next page
 * only when the caller asks for more. Stops after `maxPages` (default unlimited).
 *
 *   for await (const f of items(oasis.graph.listFollowers, { userId, pageSize: 50 }, (p) => p.users)) ...
 */

/** A list response: the token of the next page, "" on the last. */
export interface Page {
  readonly nextPageToken: string;
}

/** A list request: everything but the page token, which the pager sets. */
export type PageRequest<Req> = Omit<Req, "pageToken" | "$typeName"> & { pageToken?: string };

export interface PagingOptions {
  /** Stop after this many pages; default unlimited. */
  readonly maxPages?: number;
}

/** Each page of `list(request)`, following next_page_token until it is empty. */
export async function* pages<Req extends { pageToken?: string }, Res extends Page>(
  list: (req: Req, options?: never) => Promise<Res>,
  request: PageRequest<Req>,
  opts: PagingOptions = {},
): AsyncGenerator<Res> {
  let pageToken = request.pageToken ?? "";
  for (let n = 0; n < (opts.maxPages ?? Number.POSITIVE_INFINITY); n++) {
    const res = await list({ ...request, pageToken } as unknown as Req);
    yield res;
    if (!res.nextPageToken) return;
    if (res.nextPageToken === pageToken) throw new Error("the server returned the same page token twice");
    pageToken = res.nextPageToken;
  }
}

/** Each element of `pick(page)` over all pages of `list(request)`. */
export async function* items<Req extends { pageToken?: string }, Res extends Page, Item>(
  list: (req: Req, options?: never) => Promise<Res>,
  request: PageRequest<Req>,
  pick: (page: Res) => readonly Item[],
  opts: PagingOptions = {},
): AsyncGenerator<Item> {
  for await (const page of pages(list, request, opts)) yield* pick(page);
}
