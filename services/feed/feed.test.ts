/**
 * FeedService on real processes: fan-out to active followers (checked in Redis, where a
 * feed read's rebuild cannot hide a missed or a leftover push), rebuilds for readers who
 * were away, unfollow/block/delete removing posts, new follows back-filling, mutes,
 * visibility on every read path, refer-tos of posts that became unavailable, page sizes,
 * a constant number of calls per service for a page, and the same feed through the edge
 * with a real token. A second mesh with a low fan-out threshold and home cap checks the
 * celebrity merge at read time and the cap.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ReferredPost } from "#gen/oasis/feed/v1/feed_pb.ts";
import { Visibility } from "#gen/oasis/post/v1/post_pb.ts";
import { errorReason } from "#kit/errors.ts";
import { until } from "#kit/testing/until.ts";
import { counterSeries } from "../../bench/lib/histogram.ts";
import { readEdges, readFortunes } from "../../demo/data.ts";
import { inParallel, startSocialTestbed, type SocialTestbed } from "../../testbeds/social.ts";
import { feedRedis, type FeedRedis } from "../../testbeds/feed.ts";

let bed: SocialTestbed;
let keys: FeedRedis;
let ids: bigint[];
const members = [...new Set(readEdges().flat())].slice(300, 316);
const captions = readFortunes("en-pets.fortune");
const dayMs = 24 * 3600 * 1000;

async function home(user: bigint, pageSize = 50, on = bed): Promise<bigint[]> {
  const out: bigint[] = [];
  let pageToken = "";
  do {
    const page = await on.feed(user).getHomeFeed({ pageSize, pageToken });
    out.push(...page.items.map((v) => v.post!.postId));
    pageToken = page.nextPageToken;
  } while (pageToken);
  return out;
}

/** Posts caption `i` with photo `i` (uploaded once per user and number), or refers to a post. */
async function post(user: bigint, i: number, visibility = Visibility.PUBLIC, referPostId = 0n, on = bed): Promise<bigint> {
  const mediaIds = referPostId ? [] : [await on.photo(user, i)];
  return (await on.post(user).createPost({ mediaIds, caption: captions[i % captions.length]!.slice(0, 500), visibility, referPostId })).post!.postId;
}

const postIds = (items: Array<{ post?: { postId: bigint } }>) => items.map((v) => v.post!.postId);

/** How a PostView shows its referred post: "post <id>", "unavailable" (nothing of it), or worse. */
function referState(r: ReferredPost | undefined): string {
  if (!r) return "no refer";
  if (r.available) return `post ${r.post?.postId}`;
  return r.post || r.author ? "unavailable, yet filled in" : "unavailable";
}

/** GET through the edge (REST route) as the holder of `token`. */
async function edgeGet(path: string, token?: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${bed.mesh.url("edge")}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, json: await res.json() };
}

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "feed"]);
  keys = feedRedis(bed.mesh);
  ids = await bed.users(members, { private: (n) => n === members[11] });
});
afterAll(async () => {
  keys?.close();
  await bed?.stop();
});

describe("home feed", () => {
  test("fan-out reaches active followers; a reader who was away gets a rebuilt feed; newest first", async () => {
    const [author, active, away] = ids as [bigint, bigint, bigint];
    const lapsed = ids[6]!;
    await bed.graph(active).follow({ userId: author });
    await bed.graph(away).follow({ userId: author });
    await bed.graph(lapsed).follow({ userId: author });
    expect(await home(active)).toEqual([]); // reading makes `active` active
    // `lapsed` has a built timeline but last read 8 days ago: outside the 7-day window.
    expect(await home(lapsed)).toEqual([]);
    await keys.setLastRead(lapsed, Date.now() - 8 * dayMs);
    const p1 = await post(author, 1);
    const p2 = await post(author, 2);
    const got = await until(() => home(active), (v) => v.length === 2);
    expect(got).toEqual([p2, p1]);
    await keys.idle();
    expect(await keys.home(active)).toEqual([p2, p1]);
    // Fan-out skipped the lapsed reader; their next read rebuilds the timeline.
    expect(await keys.home(lapsed)).toEqual([]);
    expect(await home(lapsed)).toEqual([p2, p1]);
    expect(await keys.home(lapsed)).toEqual([p2, p1]);
    // `away` never read the feed: nothing was pushed, and the first read rebuilds it.
    expect(await keys.home(away)).toEqual([]);
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
    expect(await keys.home(reader)).toEqual([o1, ...before]);
    await bed.graph(other).block({ userId: reader });
    expect(await until(() => home(reader), (v) => v.length === 2)).toEqual(before);
    // Reads hide a blocker's posts anyway; the block must also have removed them.
    expect(await until(() => keys.home(reader), (v) => !v.includes(o1))).toEqual(before);

    const followers = [reader, ids[2]!, ids[6]!];
    for (const f of followers) expect(await keys.home(f)).toContain(before[0]!);
    await bed.post(author).deletePost({ postId: before[0]! });
    expect(await until(() => home(reader), (v) => v.length === 1)).toEqual([before[1]!]);
    // Reads drop deleted posts anyway; the delete must also have left every timeline.
    await until(() => keys.holders(followers, [before[0]!]), (n) => n[0] === 0);
    for (const f of followers) expect(await keys.home(f)).toEqual([before[1]!]);
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

  test("followers-only and mutual-fans-only posts reach no one else, on every read path", async () => {
    const [a, fan, mutual, outsider] = ids.slice(7, 11) as [bigint, bigint, bigint, bigint];
    // fan follows `a` one way; mutual and `a` follow each other; outsider does not follow `a`.
    // The refer-tos below reach fan and outsider through people they do follow.
    const follows = [[fan, a], [mutual, a], [a, mutual], [fan, mutual], [outsider, fan], [outsider, mutual]] as const;
    for (const [who, whom] of follows) await bed.graph(who).follow({ userId: whom });
    for (const u of [fan, mutual, outsider]) await home(u); // active: fan-out pushes to them
    const pub = await post(a, 6);
    const forFollowers = await post(a, 7, Visibility.FOLLOWERS);
    const forMutuals = await post(a, 8, Visibility.MUTUAL_FANS);
    const referF = await post(fan, 9, Visibility.PUBLIC, forFollowers);
    const referM = await post(mutual, 10, Visibility.PUBLIC, forMutuals);
    await until(() => keys.holders([fan, outsider], [referM]), (n) => n[0] === 2);
    await keys.idle();
    // Fan-out pushed the mutual-only post into the one-way fan's timeline, and the refer-tos
    // into the outsider's: only the read rules stand between them and the posts.
    expect(await keys.home(fan)).toEqual([referM, forMutuals, forFollowers, pub]);
    expect(await keys.home(outsider)).toEqual([referM, referF]);

    // Home feeds.
    expect(await home(mutual)).toEqual([forMutuals, forFollowers, pub]);
    const fanHome = await bed.feed(fan).getHomeFeed({ pageSize: 50 });
    expect(postIds(fanHome.items)).toEqual([referM, forFollowers, pub]);
    expect(referState(fanHome.items[0]!.refer)).toBe("unavailable");
    const outsiderHome = await bed.feed(outsider).getHomeFeed({ pageSize: 50 });
    expect(postIds(outsiderHome.items)).toEqual([referM, referF]);
    for (const v of outsiderHome.items) expect(referState(v.refer)).toBe("unavailable");
    // User feeds.
    const userFeed = async (viewer: bigint | null, author: bigint) => (await bed.feed(viewer).getUserFeed({ userId: author, pageSize: 50 })).items;
    expect(postIds(await userFeed(mutual, a))).toEqual([forMutuals, forFollowers, pub]);
    expect(postIds(await userFeed(fan, a))).toEqual([forFollowers, pub]);
    expect(postIds(await userFeed(outsider, a))).toEqual([pub]);
    expect(postIds(await userFeed(null, a))).toEqual([pub]);
    const [fansViewOfReferM] = await userFeed(fan, mutual);
    expect(fansViewOfReferM!.post!.postId).toBe(referM);
    expect(referState(fansViewOfReferM!.refer)).toBe("unavailable");
    expect(referState((await userFeed(mutual, mutual))[0]!.refer)).toBe(`post ${forMutuals}`);
    // GetPost and BatchGetPosts.
    const getFails = async (viewer: bigint | null, id: bigint) =>
      errorReason(await bed.post(viewer).getPost({ postId: id }).then(() => undefined, (err) => err));
    for (const viewer of [outsider, null]) {
      expect(await getFails(viewer, forFollowers)).toBe("POST_NOT_FOUND");
      expect(await getFails(viewer, forMutuals)).toBe("POST_NOT_FOUND");
    }
    expect(await getFails(fan, forMutuals)).toBe("POST_NOT_FOUND");
    expect((await bed.post(fan).getPost({ postId: forFollowers })).post!.postId).toBe(forFollowers);
    const batch = async (viewer: bigint | null) => (await bed.post(viewer).batchGetPosts({ postIds: [pub, forFollowers, forMutuals] })).posts.map((p) => p.postId);
    expect(await batch(outsider)).toEqual([pub]);
    expect(await batch(null)).toEqual([pub]);
    expect(await batch(fan)).toEqual([pub, forFollowers]);
    expect(await batch(mutual)).toEqual([pub, forFollowers, forMutuals]);
    // Referring to a post one cannot see is refused.
    const referFails = await bed.post(fan).createPost({ referPostId: forMutuals, caption: "look" }).then(() => undefined, (err) => err);
    expect(errorReason(referFails)).toBe("REFERRED_POST_UNAVAILABLE");
    // Through the edge: REST user posts and user feed, as the outsider and as the fan.
    const outsiderToken = await bed.token(members[10]!);
    const fanToken = await bed.token(members[8]!);
    const restIds = (json: any, field: string) => (json[field] ?? []).map((x: any) => BigInt(field === "posts" ? x.postId : x.post.postId));
    const outsiderPosts = await edgeGet(`/v1/users/${a}/posts?page_size=50`, outsiderToken);
    expect(outsiderPosts.status).toBe(200);
    expect(restIds(outsiderPosts.json, "posts")).toEqual([pub]);
    expect(restIds((await edgeGet(`/v1/users/${a}/feed?page_size=50`, outsiderToken)).json, "items")).toEqual([pub]);
    expect(restIds((await edgeGet(`/v1/users/${a}/feed?page_size=50`)).json, "items")).toEqual([pub]);
    expect(restIds((await edgeGet(`/v1/users/${a}/posts?page_size=50`, fanToken)).json, "posts")).toEqual([forFollowers, pub]);
    const viaEdge = await edgeGet(`/v1/users/${mutual}/feed?page_size=50`, fanToken);
    expect(restIds(viaEdge.json, "items")).toEqual([referM]);
    expect(viaEdge.json.items[0].refer.available ?? false).toBe(false);
    expect(viaEdge.json.items[0].refer.post).toBeUndefined();
    const outsiderEdgeHome = await edgeGet(`/v1/feeds/home?page_size=50`, outsiderToken);
    expect(restIds(outsiderEdgeHome.json, "items")).toEqual([referM, referF]);
    for (const item of outsiderEdgeHome.json.items) expect([item.refer.available ?? false, item.refer.post]).toEqual([false, undefined]);
  });

  test("a private author's posts are for approved followers only", async () => {
    const [fan, , outsider, priv] = ids.slice(8, 12) as [bigint, bigint, bigint, bigint];
    await bed.graph(fan).follow({ userId: priv });
    await bed.graph(outsider).follow({ userId: priv }); // a request, never approved
    await bed.graph(priv).approveFollowRequest({ userId: fan });
    const p = await post(priv, 11);
    // Wait for fan-out: the approval's back-fill built the author's timeline (empty), and
    // only the post_created event adds the post to it.
    expect(await until(() => home(fan), (v) => v.includes(p))).toContain(p);
    await keys.idle();
    expect(await home(outsider)).not.toContain(p);
    const userFeed = async (viewer: bigint | null) => postIds((await bed.feed(viewer).getUserFeed({ userId: priv, pageSize: 50 })).items);
    expect(await userFeed(priv)).toEqual([p]);
    expect(await userFeed(fan)).toEqual([p]);
    expect(await userFeed(outsider)).toEqual([]);
    expect(await userFeed(null)).toEqual([]);
    const outsiderToken = await bed.token(members[10]!);
    expect((await edgeGet(`/v1/users/${priv}/feed?page_size=50`, outsiderToken)).json.items ?? []).toEqual([]);
    expect((await edgeGet(`/v1/users/${priv}/posts?page_size=50`, outsiderToken)).json.posts ?? []).toEqual([]);
  });

  test("a refer-to of a deleted post stays, showing the deleted post as unavailable", async () => {
    const [a, , mutual, outsider] = ids.slice(7, 11) as [bigint, bigint, bigint, bigint];
    const original = await post(a, 12);
    const refer = await post(mutual, 13, Visibility.PUBLIC, original);
    const view = async () => (await bed.feed(outsider).getHomeFeed({ pageSize: 50 })).items.find((v) => v.post!.postId === refer);
    expect(referState((await until(view, (v) => v !== undefined))!.refer)).toBe(`post ${original}`);
    await bed.post(a).deletePost({ postId: original });
    const after = await until(view, (v) => v?.refer?.available === false);
    expect(referState(after!.refer)).toBe("unavailable");
    const inUserFeed = (await bed.feed(outsider).getUserFeed({ userId: mutual, pageSize: 50 })).items.find((v) => v.post!.postId === refer);
    expect(referState(inUserFeed!.refer)).toBe("unavailable");
  });

  test("page_size defaults to 20 and is capped at 100; a 100-post page is one graph call, and the read model repairs itself", async () => {
    const [h1, h2, h3, reader] = ids.slice(12, 16) as [bigint, bigint, bigint, bigint];
    const authors = [h1, h2, h3];
    for (const a of authors) await bed.graph(reader).follow({ userId: a });
    await home(reader);
    // 105 posts of three authors, one in five a refer-to (so referred posts are hydrated too).
    const originals = await Promise.all(authors.map((a, i) => post(a, 20 + i)));
    const refers = new Set<bigint>();
    await inParallel(Array.from({ length: 102 }, (_, i) => i), 4, async (i) => {
      const author = authors[i % 3]!;
      if (i % 5 === 0) refers.add(await post(author, 30 + i, Visibility.PUBLIC, originals[(i + 1) % 3]));
      else await post(author, 20 + (i % 3));
    });
    const stored = await until(() => keys.home(reader), (v) => v.length === 105, 60_000);
    expect(stored.length).toBe(105);
    await keys.idle();
    expect(postIds((await bed.feed(reader).getHomeFeed({})).items)).toEqual(stored.slice(0, 20));
    const capped = await bed.feed(reader).getHomeFeed({ pageSize: 1000 });
    expect(postIds(capped.items)).toEqual(stored.slice(0, 100));
    expect(postIds((await bed.feed(reader).getHomeFeed({ pageSize: 1000, pageToken: capped.nextPageToken })).items)).toEqual(stored.slice(100));
    expect(postIds((await bed.feed(reader).getUserFeed({ userId: h1 })).items)).toHaveLength(20);
    expect(postIds((await bed.feed(reader).getUserFeed({ userId: h1, pageSize: 1000 })).items)).toHaveLength(35);

    // Calls each upstream served for one 100-post page: the read model (read-model.ts)
    // holds posts, referred posts and authors, so only graph is asked (the viewer's
    // relationships), once. Other consumers (notification reads referred posts) must be
    // done first; the read above filled whatever events had not.
    await keys.quiet(60_000);
    const upstreams = ["post", "graph", "identity"];
    const handled = () => Promise.all(upstreams.map((s) => counterSeries(bed.mesh.metricsUrl(s), "grpc_server_handled_total")));
    const callsFor = async (read: () => Promise<unknown>) => {
      const before = await handled();
      await read();
      const after = await handled();
      // Only the services' own methods: the edge's health probes (every 2 s) land in the same counter.
      const counted = (m: Map<string, number>) => [...m].filter(([labels]) => labels.includes('grpc_service="oasis.'));
      return Object.fromEntries(upstreams.map((s, i) => [s, counted(after[i]!).reduce((n, [labels, v]) => n + v - (before[i]!.get(labels) ?? 0), 0)]));
    };
    let page!: Awaited<ReturnType<ReturnType<typeof bed.feed>["getHomeFeed"]>>;
    const calls = await callsFor(async () => (page = await bed.feed(reader).getHomeFeed({ pageSize: 100 })));
    expect(postIds(page.items)).toEqual(stored.slice(0, 100));
    const referring = stored.slice(0, 100).filter((id) => refers.has(id)).length;
    expect(referring).toBeGreaterThan(0);
    expect(page.items.filter((v) => v.refer?.available)).toHaveLength(referring);
    console.log(`calls for one 100-post home page: ${JSON.stringify(calls)}`);
    expect(calls).toEqual({ post: 0, graph: 1, identity: 0 });

    // Repair: with every read-model key gone, the next page is loaded from post and
    // identity (a constant number of batch calls), is the same, and refills the keys.
    const dropped = await keys.dropReadModel();
    expect(dropped).toBeGreaterThan(100);
    let repaired!: typeof page;
    const repairCalls = await callsFor(async () => (repaired = await bed.feed(reader).getHomeFeed({ pageSize: 100 })));
    console.log(`calls for the same page after the read model's ${dropped} keys were dropped: ${JSON.stringify(repairCalls)}`);
    expect(repaired).toEqual(page);
    expect(repairCalls.post).toBeGreaterThanOrEqual(1);
    expect(repairCalls.post).toBeLessThanOrEqual(2);
    expect(repairCalls.identity).toBe(1);
    expect(await keys.readModelKeys()).toBeGreaterThan(100);
    expect(await callsFor(() => bed.feed(reader).getHomeFeed({ pageSize: 100 }))).toEqual({ post: 0, graph: 1, identity: 0 });
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

describe("a mesh with a fan-out threshold of 3 and a home cap of 5", () => {
  let lim: SocialTestbed;
  let limKeys: FeedRedis;
  let u: bigint[];
  beforeAll(async () => {
    lim = await startSocialTestbed(["identity", "graph", "media", "post", "feed"], { env: { OASIS_FEED_FANOUT_THRESHOLD: "3", OASIS_FEED_HOME_CAP: "5" } });
    limKeys = feedRedis(lim.mesh);
    u = await lim.users(members.slice(0, 9));
  });
  afterAll(async () => {
    limKeys?.close();
    await lim?.stop();
  });

  test("an author above the threshold is not fanned out but merged in at read time, in order", async () => {
    const [celeb, normal, f1, f2, f3, f4] = u as [bigint, bigint, bigint, bigint, bigint, bigint];
    const fans = [f1, f2, f3, f4];
    for (const f of fans) await lim.graph(f).follow({ userId: celeb });
    await lim.graph(f1).follow({ userId: normal });
    for (const f of fans) await home(f, 50, lim); // all active
    const c1 = await post(celeb, 1, Visibility.PUBLIC, 0n, lim);
    const n1 = await post(normal, 2, Visibility.PUBLIC, 0n, lim);
    const c2 = await post(celeb, 3, Visibility.PUBLIC, 0n, lim);
    const n2 = await post(normal, 4, Visibility.PUBLIC, 0n, lim);
    await until(() => limKeys.home(f1), (v) => v.includes(n2));
    await limKeys.idle();
    expect(await limKeys.celebs()).toEqual([celeb]);
    // Four followers > 3: no follower's stored timeline holds the celebrity's posts.
    expect(await limKeys.home(f1)).toEqual([n2, n1]);
    expect(await limKeys.holders(fans, [c1, c2])).toEqual([0, 0]);
    // Reads merge them in, newest first, and page through the merge.
    expect(await home(f1, 50, lim)).toEqual([n2, c2, n1, c1]);
    expect(await home(f1, 1, lim)).toEqual([n2, c2, n1, c1]);
    expect(await home(f2, 50, lim)).toEqual([c2, c1]);
    expect(await home(normal, 50, lim)).toEqual([]); // does not follow the celebrity
  });

  test("a home timeline keeps the 5 newest posts, after fan-out and after a rebuild", async () => {
    const [author, reader, later] = u.slice(6, 9) as [bigint, bigint, bigint];
    await lim.graph(reader).follow({ userId: author });
    await lim.graph(reader).follow({ userId: later });
    await home(reader, 50, lim);
    const made: bigint[] = [];
    for (let i = 0; i < 7; i++) made.unshift(await post(author, 5, Visibility.PUBLIC, 0n, lim));
    await until(() => limKeys.home(reader), (v) => v[0] === made[0]);
    await limKeys.idle();
    expect(await limKeys.home(reader)).toEqual(made.slice(0, 5));
    expect(await home(reader, 50, lim)).toEqual(made.slice(0, 5));
    // Away for 8 days, the reader misses two newer posts; the next read rebuilds the
    // timeline from both authors' timelines (9 posts), again keeping the 5 newest.
    await limKeys.setLastRead(reader, Date.now() - 8 * dayMs);
    const missed = [await post(later, 6, Visibility.PUBLIC, 0n, lim)];
    missed.unshift(await post(later, 6, Visibility.PUBLIC, 0n, lim));
    await until(() => limKeys.user(later), (v) => v[0] === missed[0]);
    await limKeys.idle();
    expect(await limKeys.home(reader)).toEqual(made.slice(0, 5));
    const rebuilt = [...missed, ...made.slice(0, 3)];
    expect(await home(reader, 50, lim)).toEqual(rebuilt);
    expect(await limKeys.home(reader)).toEqual(rebuilt);
  });
});
