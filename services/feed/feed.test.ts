/**
 * FeedService on real processes: fan-out to active followers, rebuilds for readers who
 * were away, unfollow/block/delete removing posts, new follows back-filling, mutes,
 * refer-tos of posts that became unavailable, keyset paging, and the same feed through
 * the edge with a real token.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Visibility } from "#gen/oasis/post/v1/post_pb.ts";
import { readEdges, readFortunes } from "../../demo/data.ts";
import { startSocialTestbed, type SocialTestbed } from "../../tests/social-testbed.ts";

let bed: SocialTestbed;
let ids: bigint[];
const members = [...new Set(readEdges().flat())].slice(300, 306);
const captions = readFortunes("en-pets.fortune");

async function home(user: bigint, pageSize = 50): Promise<bigint[]> {
  const out: bigint[] = [];
  let pageToken = "";
  do {
    const page = await bed.feed(user).getHomeFeed({ pageSize, pageToken });
    out.push(...page.items.map((v) => v.post!.postId));
    pageToken = page.nextPageToken;
  } while (pageToken);
  return out;
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await Bun.sleep(50);
  }
}

async function post(user: bigint, i: number, visibility = Visibility.PUBLIC, referPostId = 0n): Promise<bigint> {
  const mediaIds = referPostId ? [] : [await bed.photo(user, i)];
  return (await bed.post(user).createPost({ mediaIds, caption: captions[i % captions.length]!.slice(0, 500), visibility, referPostId })).post!.postId;
}

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "feed"]);
  ids = await bed.users(members);
});
afterAll(() => bed?.stop());

describe("home feed", () => {
  test("fan-out reaches active followers; a reader who was away gets a rebuilt feed; newest first", async () => {
    const [author, active, away] = ids as [bigint, bigint, bigint];
    await bed.graph(active).follow({ userId: author });
    await bed.graph(away).follow({ userId: author });
    expect(await home(active)).toEqual([]); // reading makes `active` active
    const p1 = await post(author, 1);
    const p2 = await post(author, 2);
    const got = await until(() => home(active), (v) => v.length === 2);
    expect(got).toEqual([p2, p1]);
    // `away` never read the feed: nothing was pushed, and the first read rebuilds it.
    expect(await home(away)).toEqual([p2, p1]);
    // Own posts are not in one's home feed; the user feed has them.
    expect(await home(author)).toEqual([]);
    const own = await bed.feed(author).getUserFeed({ userId: author });
    expect(own.items.map((v) => v.post!.postId)).toEqual([p2, p1]);
    expect(own.items[0]!.author!.handle).toBe(`reed_${members[0]}`);
  });

  test("unfollow and block remove an author's posts; a new follow back-fills; delete removes everywhere", async () => {
    const [author, reader, , other] = ids as [bigint, bigint, bigint, bigint];
    const before = await home(reader);
    expect(before.length).toBe(2);
    await bed.graph(reader).unfollow({ userId: author });
    await until(() => home(reader), (v) => v.length === 0);
    expect(await home(reader)).toEqual([]);
    await bed.graph(reader).follow({ userId: author });
    expect(await until(() => home(reader), (v) => v.length === 2)).toEqual(before);

    await bed.graph(reader).follow({ userId: other });
    const o1 = await post(other, 3);
    expect(await until(() => home(reader), (v) => v.length === 3)).toEqual([o1, ...before]);
    await bed.graph(other).block({ userId: reader });
    expect(await until(() => home(reader), (v) => v.length === 2)).toEqual(before);

    await bed.post(author).deletePost({ postId: before[0]! });
    expect(await until(() => home(reader), (v) => v.length === 1)).toEqual([before[1]!]);
  });

  test("mutes hide, visibility holds, and a refer-to of a vanished post shows as unavailable", async () => {
    const [author, reader, , , quoter, stranger] = ids as [bigint, bigint, bigint, bigint, bigint, bigint];
    await bed.graph(reader).follow({ userId: quoter });
    await bed.graph(quoter).follow({ userId: author });
    await bed.graph(stranger).follow({ userId: quoter });
    await home(stranger);
    const secret = await post(author, 4, Visibility.FOLLOWERS);
    const quote = await post(quoter, 5, Visibility.PUBLIC, secret);
    const readerView = await until(
      () => bed.feed(reader).getHomeFeed({ pageSize: 10 }),
      (v) => v.items.some((x) => x.post!.postId === quote),
    );
    const q = readerView.items.find((x) => x.post!.postId === quote)!;
    // reader follows author: the quoted followers-only post is visible to them.
    expect(q.refer?.available).toBe(true);
    expect(q.refer?.post?.postId).toBe(secret);
    // stranger does not follow author: the quote shows, the quoted post is unavailable.
    const strangerView = await until(() => bed.feed(stranger).getHomeFeed({ pageSize: 10 }), (v) => v.items.some((x) => x.post!.postId === quote));
    const sq = strangerView.items.find((x) => x.post!.postId === quote)!;
    expect(sq.refer?.available).toBe(false);
    expect(sq.refer?.post).toBeUndefined();
    expect(strangerView.items.map((x) => x.post!.postId)).not.toContain(secret);
    // Muting the quoter hides their posts from the reader's feed.
    await bed.graph(reader).mute({ userId: quoter });
    expect((await home(reader)).includes(quote)).toBe(false);
  });

  test("the same feed through the edge, as JSON with a real token", async () => {
    const token = await bed.token(members[1]!);
    const res = await bed.edgeCall("/oasis.feed.v1.FeedService/GetHomeFeed", { pageSize: 5 }, token);
    expect(res.status).toBe(200);
    const items = res.json.items as any[];
    expect(items.length).toBeGreaterThan(0);
    expect(typeof items[0].post.postId).toBe("string");
    expect(items[0].author.handle).toMatch(/^reed_/);
    expect(items[0].post.media[0].variants.thumb.url).toMatch(/^\/media\/\d+\/thumb$/);
    const anon = await bed.edgeCall("/oasis.feed.v1.FeedService/GetHomeFeed", {});
    expect(anon.status).toBe(401);
  });
});
