/**
 * Building timelines from their sources when Redis does not have them: an author's from
 * the post service, a reader's home timeline by merging the timelines of everyone they
 * follow (Twitter's and Mastodon's "rebuild from followees" for returning users).
 */
import { asService } from "#kit/client.ts";
import type { FeedContext } from "../context.ts";

/** Makes sure `author`'s timeline is built; returns nothing. */
export async function ensureUserTimeline(ctx: FeedContext, author: bigint): Promise<void> {
  if (await ctx.timelines.isUserBuilt(author)) return;
  const res = await ctx.post.listAuthorPostIds({ authorId: author, pageSize: ctx.rt.config.userCap }, asService());
  await ctx.timelines.writeUser(author, res.postIds);
}

/** Every user `reader` follows (all pages). */
export async function followees(ctx: FeedContext, reader: bigint): Promise<bigint[]> {
  const out: bigint[] = [];
  let pageToken = "";
  do {
    const page = await ctx.graph.listFollowingIds({ userId: reader, pageSize: 10_000, pageToken }, asService());
    out.push(...page.userIds);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return out;
}

/** Rebuilds `reader`'s home timeline from the newest posts of everyone they follow. */
export async function rebuildHome(ctx: FeedContext, reader: bigint): Promise<void> {
  const authors = await followees(ctx, reader);
  const ids: bigint[] = [];
  // A few authors at a time: each may need its own timeline built first.
  for (let i = 0; i < authors.length; i += 16) {
    const slice = authors.slice(i, i + 16);
    await Promise.all(slice.map((a) => ensureUserTimeline(ctx, a)));
    for (const a of slice) ids.push(...(await ctx.timelines.page("ut", a, undefined, ctx.rt.config.homeCap)).ids);
  }
  await ctx.timelines.writeHome(reader, ids);
}
