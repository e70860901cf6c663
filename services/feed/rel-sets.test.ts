/**
 * The viewer's relationship set (services/feed/page-path/pieces.ts relSetKey), on real
 * processes (edge with OASIS_EDGE_REL_SETS=1, feed, graph, post, identity, media) and
 * Redis: a viewer's first unknown relationship loads their whole set with one
 * ListRelationships call, and from then on a user timeline of anyone they never read is
 * served by the page path with no graph call, the same posts and relationship the feed
 * gives; a follow, unfollow, block, mute or follow request, made through the edge or
 * straight on graph, shows on the next page (the set is dropped and fenced: through the
 * edge at once, straight on graph when the feed consumed the event); a load racing a
 * change does not store; a set too large to keep falls back to pair fills; graph events
 * amend a set in place (OASIS_FEED_REL_SET_AMEND), pair for pair what graph lists; a write
 * through the edge amends the writer's own set (OASIS_EDGE_REL_SET_AMEND), so the writer's
 * next page is a plain hit with no graph call; the feed's own GetHomeFeed takes the
 * relationships from a complete set (OASIS_FEED_READ_REL_SETS), still hiding a muted or
 * blocked author, and asks graph only without one.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Redis } from "ioredis";
import { Visibility } from "#gen/oasis/post/v1/post_pb.ts";
import { GetUserFeedRequestSchema } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import { RelationshipSchema, type Relationship } from "#gen/oasis/graph/v1/graph_pb.ts";
import { until } from "#kit/testing/until.ts";
import { testAdminHandle } from "#kit/testing/mesh.ts";
import { counterSeries } from "../../bench/lib/histogram.ts";
import { bulkImportLimits, createEdgeAdmin, setEdgeLimits } from "../../edge/limits-admin.ts";
import { readEdges, readFortunes } from "../../demo/data.ts";
import { feedRedis, type FeedRedis } from "../../testbeds/feed.ts";
import { inParallel, startSocialTestbed, type SocialTestbed } from "../../testbeds/social.ts";
import { dropRelationshipSets, FeedPagePath, type RelationshipAsk } from "./page-path/index.ts";

let bed: SocialTestbed;
let keys: FeedRedis;
let redis: Redis;
let prefix: string;
// Sixteen Reed98 members; relationships are made by the test, not taken from Reed98.
const members = [...new Set(readEdges().flat())].slice(100, 116);
const [viewer, stranger, priv, followed, blocker, muted, later, other, racer, big, warmer, third, amA, amB, writer, homer] = members as [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];
const authors = [stranger, priv, followed, blocker, muted, later, other, third];
const idOf = new Map<number, bigint>();
const id = (n: number) => idOf.get(n)!;
const tokens = new Map<number, string>();

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "feed"], { env: { OASIS_EDGE_PAGE_PATH: "1", OASIS_EDGE_REL_SETS: "1" } });
  keys = feedRedis(bed.mesh);
  prefix = `${bed.mesh.namespace}:oasis:feed:`;
  redis = new Redis(bed.mesh.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379");
  await setEdgeLimits(bed.mesh.url("edge"), await createEdgeAdmin(bed.mesh.url("edge"), testAdminHandle), bulkImportLimits);
  const ids = await bed.users(members, { private: (n) => n === priv, concurrency: 6 });
  members.forEach((n, i) => idOf.set(n, ids[i]!));
  // The viewer follows `followed`; the big viewer relates to four users.
  await bed.graph(id(viewer)).follow({ userId: id(followed) });
  for (const n of [stranger, followed, muted, later]) await bed.graph(id(big)).follow({ userId: id(n) });
  const captions = readFortunes("en-pets.fortune");
  await inParallel(authors, 4, async (n, i) => {
    for (const visibility of [Visibility.PUBLIC, Visibility.FOLLOWERS]) {
      await bed.post(id(n)).createPost({ mediaIds: [await bed.photo(id(n), i)], caption: captions[i % captions.length]!.slice(0, 200), visibility });
    }
  });
  // User timelines built by a reader who is none of the viewers (the feed's own reads
  // store that reader's pairs only).
  for (const n of authors) await bed.feed(id(warmer)).getUserFeed({ userId: id(n), pageSize: 10 });
  for (const n of [viewer, big, amA, amB, writer, homer]) tokens.set(n, await bed.token(n));
  await keys.quiet(60_000);
}, 300_000);
afterAll(async () => {
  redis?.disconnect();
  keys?.close();
  await bed?.stop();
});

/** Graph RPCs handled so far, by method. */
async function graphCalls(): Promise<{ batch: number; list: number }> {
  const series = await counterSeries(bed.mesh.metricsUrl("graph"), "grpc_server_handled_total");
  const sum = (method: string) => [...series].filter(([labels]) => labels.includes(`grpc_method="${method}"`)).reduce((a, [, v]) => a + v, 0);
  return { batch: sum("BatchGetRelationships"), list: sum("ListRelationships") };
}

async function pagePathResults(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [labels, v] of await counterSeries(bed.mesh.metricsUrl("edge"), "edge_page_path_total")) out[/result="([^"]+)"/.exec(labels)![1]!] = v;
  return out;
}

/** `author`'s user timeline through the edge as `reader` (one page): post ids and the relationship shown. */
async function edgePage(reader: number, author: number): Promise<{ posts: string[]; relationship: Record<string, unknown> | undefined }> {
  const res = await fetch(`${bed.mesh.url("edge")}/v1/users/${id(author)}/feed?page_size=10`, { headers: { authorization: `Bearer ${tokens.get(reader)!}` } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { items?: Array<{ post: { postId: string }; relationship?: Record<string, unknown> }> };
  return { posts: (body.items ?? []).map((v) => v.post.postId), relationship: body.items?.[0]?.relationship };
}

/** The same page from the feed itself (which asks graph): post ids. */
async function feedPage(reader: number, author: number): Promise<string[]> {
  return (await bed.feed(id(reader)).getUserFeed({ userId: id(author), pageSize: 10 })).items.map((v) => String(v.post!.postId));
}

const relKeys = async (reader: number) => (await redis.keys(`${prefix}rm:rel:${id(reader)}:*`)).length;
const setState = async (reader: number) => redis.hget(`${prefix}rm:rels:${id(reader)}`, "*");

test("a viewer's first unknown relationship loads their set in one call; every other user timeline is then served with no graph call, as the feed serves it", async () => {
  expect(await setState(viewer)).toBeNull();
  const c0 = await graphCalls();
  const r0 = await pagePathResults();
  const first = await edgePage(viewer, stranger);
  const c1 = await graphCalls();
  expect(c1.list - c0.list).toBe(1);
  expect(c1.batch - c0.batch).toBe(0);
  expect(await setState(viewer)).toBe("1");
  const got = new Map([[stranger, first]]);
  for (const n of [priv, followed, blocker, muted, later, other, third]) got.set(n, await edgePage(viewer, n));
  const c2 = await graphCalls();
  expect(c2).toEqual(c1);
  const r1 = await pagePathResults();
  expect({ filled: (r1.filled ?? 0) - (r0.filled ?? 0), hit: (r1.hit ?? 0) - (r0.hit ?? 0), miss: (r1.miss ?? 0) - (r0.miss ?? 0) }).toEqual({ filled: 1, hit: 7, miss: 0 });
  // No pair was stored: the set answered.
  expect(await relKeys(viewer)).toBe(0);
  // What the rules made of it: a stranger's and the private account's followers-only
  // posts are hidden, the followed author's shown.
  expect(got.get(stranger)!.posts.length).toBe(1);
  expect(got.get(priv)!.posts.length).toBe(0);
  expect(got.get(followed)!.posts.length).toBe(2);
  expect(got.get(followed)!.relationship).toEqual({ userId: String(id(followed)), following: true });
  expect(got.get(stranger)!.relationship).toEqual({ userId: String(id(stranger)) });
  // The feed (asking graph) gives the same posts.
  for (const [n, page] of got) expect({ n, posts: page.posts }).toEqual({ n, posts: await feedPage(viewer, n) });
});

test("a follow, mute, block or unfollow through the edge amends the writer's set: the next page shows it exactly and is a hit with no graph call", async () => {
  await edgePage(writer, stranger);
  expect(await setState(writer)).toBe("1");
  const edgeWrite = async (verb: string, target: number) => {
    const res = await fetch(`${bed.mesh.url("edge")}/v1/users/${id(target)}:${verb}`, { method: "POST", headers: { authorization: `Bearer ${tokens.get(writer)!}`, "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(200);
  };
  const fieldOf = async (target: number) => (await redis.hgetBuffer(`${prefix}rm:rels:${id(writer)}`, String(id(target))))?.toString("hex") ?? null;
  /** What graph says of the pair now, as a set holds it (absent when it relates not at all). */
  const graphField = async (target: number) => {
    const [r] = (await bed.graph(id(writer)).batchGetRelationships({ userIds: [id(target)] })).relationships;
    return r && (r.following || r.followedBy || r.mutual || r.requested || r.requestedBy || r.blocking || r.blockedBy || r.muting) ? Buffer.from(toBinary(RelationshipSchema, r)).toString("hex") : null;
  };
  // With the feed stopped no graph event is consumed, so only the edge's amend can show
  // the change (and no consumer's fence races it into a drop).
  await keys.idle();
  await bed.mesh.supervisor.stop("feed");
  try {
    const steps: Array<[string, number, { posts: number; relationship?: Record<string, unknown> }]> = [
      ["follow", other, { posts: 2, relationship: { userId: String(id(other)), following: true } }],
      ["unfollow", other, { posts: 1, relationship: { userId: String(id(other)) } }],
      ["mute", muted, { posts: 0 }],
      ["block", third, { posts: 0 }],
    ];
    for (const [verb, target, want] of steps) {
      await edgeWrite(verb, target);
      const [c0, r0] = [await graphCalls(), await pagePathResults()];
      const page = await edgePage(writer, target);
      const [c1, r1] = [await graphCalls(), await pagePathResults()];
      const delta = (k: string) => (r1[k] ?? 0) - (r0[k] ?? 0);
      expect({ verb, calls: c1, results: { hit: delta("hit"), filled: delta("filled"), miss: delta("miss"), error: delta("error") } }).toEqual({ verb, calls: c0, results: { hit: 1, filled: 0, miss: 0, error: 0 } });
      expect({ verb, posts: page.posts.length, relationship: page.relationship }).toEqual({ verb, posts: want.posts, relationship: want.relationship });
      // Exactly graph's answer, byte for byte, in a set still complete.
      expect({ verb, set: await setState(writer), field: await fieldOf(target) }).toEqual({ verb, set: "1", field: await graphField(target) });
    }
  } finally {
    await bed.mesh.supervisor.restart("feed");
  }
  await keys.idle();
}, 120_000);

test("the feed's GetHomeFeed takes relationships from the reader's complete set (no graph call), still hides a muted and a blocked author, and asks graph without a set", async () => {
  const h = id(homer);
  for (const n of [followed, other, later]) await bed.graph(h).follow({ userId: id(n) });
  await keys.idle();
  /** The authors of the posts on the reader's home page, from the feed itself. */
  const homeAuthors = async () => [...new Set((await bed.feed(h).getHomeFeed({ pageSize: 50 })).items.map((v) => String(v.post!.authorId)))].sort();
  const all = [followed, other, later].map((n) => String(id(n))).sort();
  expect(await homeAuthors()).toEqual(all);
  // The set loaded by a page at the edge.
  await edgePage(homer, stranger);
  expect(await setState(homer)).toBe("1");
  /** A change straight on graph, waited for until the feed's consumer amended the set. */
  const change = async (run: () => Promise<unknown>) => {
    const version = `${prefix}rm:rels:v:${h}`;
    const seen = await redis.get(version);
    await run();
    await until(() => redis.get(version), (v) => v !== seen);
    await keys.idle();
  };
  await change(() => bed.graph(h).mute({ userId: id(followed) }));
  await change(() => bed.graph(h).block({ userId: id(other) }));
  expect(await setState(homer)).toBe("1");
  const c0 = await graphCalls();
  const kept = [later].map((n) => String(id(n)));
  expect(await homeAuthors()).toEqual(kept);
  expect(await graphCalls()).toEqual(c0);
  // Without a set: graph is asked (one BatchGetRelationships), with the same answer.
  await dropRelationshipSets(redis, prefix, [h]);
  expect(await homeAuthors()).toEqual(kept);
  expect((await graphCalls()).batch - c0.batch).toBe(1);
}, 120_000);

test("follow, unfollow, block, mute and a follow request show on the next page: through the edge at once, straight on graph once the feed consumed the event", async () => {
  const edgeWrite = async (verb: string, target: number) => {
    const res = await fetch(`${bed.mesh.url("edge")}/v1/users/${id(target)}:${verb}`, { method: "POST", headers: { authorization: `Bearer ${tokens.get(viewer)!}`, "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(200);
  };
  // Through the edge, with the feed stopped: no graph event is consumed meanwhile, so
  // only the edge's own drop of the sets can show the change. Loaded and answering (the
  // first test): the viewer sees one post of `later`.
  await edgePage(viewer, later);
  expect(await setState(viewer)).toBe("1");
  expect((await edgePage(viewer, later)).posts.length).toBe(1);
  await bed.mesh.supervisor.stop("feed");
  try {
    // Follow: the followers-only post shows on the very next page.
    await edgeWrite("follow", later);
    expect(await edgePage(viewer, later)).toMatchObject({ posts: { length: 2 }, relationship: { userId: String(id(later)), following: true } });
    // Unfollow: hidden again at once.
    await edgeWrite("unfollow", later);
    expect((await edgePage(viewer, later)).posts.length).toBe(1);
    // Mute: nothing of theirs at once.
    expect((await edgePage(viewer, muted)).posts.length).toBe(1);
    await edgeWrite("mute", muted);
    expect((await edgePage(viewer, muted)).posts).toEqual([]);
  } finally {
    await bed.mesh.supervisor.restart("feed");
  }
  await keys.idle();
  expect(await feedPage(viewer, muted)).toEqual([]);
  expect((await edgePage(viewer, later)).posts).toEqual(await feedPage(viewer, later));

  // Straight on graph (the edge sees no write): a block of the viewer by `blocker`. The
  // feed's graph consumer drops the viewer's set; the page then shows none. No pair of
  // the viewer is stored (the feed's reads above stored some), so the set answers alone.
  const dropPairs = async () => {
    const pairs = await redis.keys(`${prefix}rm:rel:${id(viewer)}:*`);
    if (pairs.length) await redis.del(...pairs);
  };
  await dropPairs();
  await edgePage(viewer, blocker);
  await until(() => setState(viewer), (s) => s === "1");
  expect((await edgePage(viewer, blocker)).posts.length).toBe(1);
  expect(await relKeys(viewer)).toBe(0);
  await bed.graph(id(blocker)).block({ userId: id(viewer) });
  await until(() => edgePage(viewer, blocker), (p) => p.posts.length === 0);
  await keys.idle();
  expect(await edgePage(viewer, blocker)).toEqual({ posts: [], relationship: undefined });
  expect(await feedPage(viewer, blocker)).toEqual([]);
  // A set loaded after the block says so too (blocked_by), and answers for the others.
  await redis.del(`${prefix}rm:rel:${id(viewer)}:${id(blocker)}`);
  await dropRelationshipSets(redis, prefix, [id(viewer)]);
  expect((await edgePage(viewer, blocker)).posts).toEqual([]);
  expect(await setState(viewer)).toBe("1");
  expect(await redis.hexists(`${prefix}rm:rels:${id(viewer)}`, String(id(blocker)))).toBe(1);

  // Straight on graph: the viewer follows `other` (the event drops the set), then asks to
  // follow the private account: a pending request is the feed's to answer (a miss), and
  // the page is the feed's.
  await dropPairs();
  expect((await edgePage(viewer, other)).posts.length).toBe(1);
  expect(await relKeys(viewer)).toBe(0);
  await bed.graph(id(viewer)).follow({ userId: id(other) });
  await until(() => edgePage(viewer, other), (p) => p.posts.length === 2);
  await keys.idle();
  // The request's event is consumed when the viewer's set version moves (the drop).
  const version = `${prefix}rm:rels:v:${id(viewer)}`;
  const seen = await redis.get(version);
  await bed.graph(id(viewer)).follow({ userId: id(priv) });
  await until(() => redis.get(version), (v) => v !== seen);
  await keys.idle();
  const before = await pagePathResults();
  const pending = await edgePage(viewer, priv);
  expect(pending).toEqual({ posts: [], relationship: undefined });
  expect(((await pagePathResults()).miss ?? 0) - (before.miss ?? 0)).toBe(1);
  await bed.graph(id(priv)).approveFollowRequest({ userId: id(viewer) });
  await until(() => edgePage(viewer, priv), (p) => p.posts.length === 2);
  expect((await edgePage(viewer, priv)).posts).toEqual(await feedPage(viewer, priv));
}, 120_000);

/** A page path of its own on the mesh's feed Redis, with `ask` counting what it asked. */
function ownPagePath(setMax?: number) {
  const conn = new Redis(bed.mesh.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379");
  return { path: new FeedPagePath(conn, prefix, { sets: true, setMax }), close: () => conn.disconnect() };
}

test("a load that started before a graph change does not store its set; the page falls back to the pairs", async () => {
  const { path, close } = ownPagePath();
  try {
    const asked = { set: 0, pairs: 0 };
    const ask: RelationshipAsk = {
      pairs: async (ids) => {
        asked.pairs++;
        return (await bed.graph(id(racer)).batchGetRelationships({ userIds: ids })).relationships;
      },
      set: async (max) => {
        asked.set++;
        const version = `${prefix}rm:rels:v:${id(racer)}`;
        const seen = await redis.get(version);
        // What graph said before the change...
        const page = await bed.graph(id(racer)).listRelationships({ pageSize: max });
        // ...then the change: the racer follows `third`, and the feed's graph consumer
        // handles its event (dropping the racer's set: its version moves) before this
        // load returns.
        await bed.graph(id(racer)).follow({ userId: id(third) });
        await until(() => redis.get(version), (v) => v !== seen);
        await keys.idle();
        return { relationships: page.relationships, complete: page.nextPageToken === "" };
      },
    };
    const page = await path.user(create(GetUserFeedRequestSchema, { userId: id(third), pageSize: 10 }), id(racer), ask);
    expect(asked).toEqual({ set: 1, pairs: 1 });
    expect(await setState(racer)).toBeNull();
    // Served from the pair asked after the change: the racer follows `third` now.
    expect(page.served).toBe(true);
    const items = page.served ? page.response.items : [];
    expect(items.length).toBe(2);
    expect(items[0]!.relationship!.following).toBe(true);
  } finally {
    close();
  }
});

test("a set too large to keep falls back to pair fills, and is not asked again while it lasts", async () => {
  const { path, close } = ownPagePath(2);
  try {
    const asked = { set: 0, pairs: [] as bigint[][] };
    const ask: RelationshipAsk = {
      pairs: async (ids) => {
        asked.pairs.push(ids);
        return (await bed.graph(id(big)).batchGetRelationships({ userIds: ids })).relationships;
      },
      set: async (max) => {
        asked.set++;
        const page = await bed.graph(id(big)).listRelationships({ pageSize: max });
        return { relationships: page.relationships as Relationship[], complete: page.nextPageToken === "" };
      },
    };
    const read = (n: number) => path.user(create(GetUserFeedRequestSchema, { userId: id(n), pageSize: 10 }), id(big), ask);
    const a = await read(followed);
    expect(a.served && a.response.items.length).toBe(2);
    expect(await setState(big)).toBe("0");
    const b = await read(other);
    expect(b.served && b.response.items.length).toBe(1);
    expect(asked.set).toBe(1);
    expect(asked.pairs).toEqual([[id(followed)], [id(other)]]);
    expect(await redis.exists(`${prefix}rm:rel:${id(big)}:${id(followed)}`, `${prefix}rm:rel:${id(big)}:${id(other)}`)).toBe(2);
    // A change of one of its relationships leaves the marker (it answers nothing) and
    // fences loads; a complete set it would drop.
    const version = await redis.get(`${prefix}rm:rels:v:${id(big)}`);
    await dropRelationshipSets(redis, prefix, [id(big)]);
    expect(await setState(big)).toBe("0");
    expect(await redis.get(`${prefix}rm:rels:v:${id(big)}`)).not.toBe(version);
    await read(third);
    expect(asked.set).toBe(1);
  } finally {
    close();
  }
});

test("graph events amend a loaded set in place: after each change it holds exactly what ListRelationships lists, bytes and all, and is never reloaded", async () => {
  // Both sets loaded by a page each (a user neither relates to yet).
  for (const n of [amA, amB]) {
    await edgePage(n, stranger);
    expect(await setState(n)).toBe("1");
  }
  /** The set as stored (fields to hex, the sentinel included). */
  const stored = async (n: number) => {
    const raw = await redis.hgetallBuffer(`${prefix}rm:rels:${id(n)}`);
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, k === "*" ? v.toString() : v.toString("hex")]));
  };
  /** What a fresh load would store: every relationship graph lists for `n`, as the edge encodes it. */
  let mine = 0;
  const listed = async (n: number) => {
    mine++;
    const page = await bed.graph(id(n)).listRelationships({ pageSize: 10_000 });
    expect(page.nextPageToken).toBe("");
    return { "*": "1", ...Object.fromEntries(page.relationships.map((r) => [String(r.userId), Buffer.from(toBinary(RelationshipSchema, r)).toString("hex")])) };
  };
  const lists0 = (await graphCalls()).list;
  const versionOf = (n: number) => redis.get(`${prefix}rm:rels:v:${id(n)}`);
  /** Runs a change straight on graph, waits until the feed consumed it (the versions of `moved` moved, consumers idle), then compares both sets. */
  const step = async (what: string, change: () => Promise<unknown>, moved: number[]) => {
    const seen = await Promise.all(moved.map(versionOf));
    await change();
    for (const [i, n] of moved.entries()) await until(() => versionOf(n), (v) => v !== seen[i]);
    await keys.idle();
    for (const n of [amA, amB]) expect({ what, n, set: await stored(n) }).toEqual({ what, n, set: await listed(n) });
  };
  const [a, b] = [id(amA), id(amB)];
  await step("a follows b", () => bed.graph(a).follow({ userId: b }), [amA, amB]);
  await step("b follows a", () => bed.graph(b).follow({ userId: a }), [amA, amB]);
  await step("b mutes a", () => bed.graph(b).mute({ userId: a }), [amB]);
  await step("a blocks b", () => bed.graph(a).block({ userId: b }), [amA, amB]);
  await step("a unblocks b", () => bed.graph(a).unblock({ userId: b }), [amA, amB]);
  await step("b unmutes a", () => bed.graph(b).unmute({ userId: a }), [amB]);
  await step("a asks to follow the private account", () => bed.graph(a).follow({ userId: id(priv) }), [amA]);
  await step("a mutes a stranger", () => bed.graph(a).mute({ userId: id(stranger) }), [amA]);
  // Amended, never dropped: no load asked graph for a set again (the calls are this test's own).
  expect((await graphCalls()).list - mine).toBe(lists0);
  // And the page path answers from it: a's view of the stranger is a mute (no posts), of b nothing at all.
  expect((await edgePage(amA, stranger)).posts).toEqual([]);
  expect(await stored(amA)).not.toHaveProperty(String(b));
  expect((await graphCalls()).list - mine).toBe(lists0);
}, 120_000);
