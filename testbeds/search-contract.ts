/**
 * The search contract, run against whichever engine `env` configures (search.test.ts
 * registers it for the embedded engine and, when OASIS_MEILI_URL is set, for
 * Meilisearch; otherwise that run is reported as skipped). Real processes: identity,
 * graph, media, post, search and the edge; real captions from demo/data/text (Tang
 * poems, fortunes).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Visibility } from "#gen/oasis/post/v1/post_pb.ts";
import { SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import { errorReason, violatedFields } from "#kit/errors.ts";
import { testClient } from "#kit/testing/clients.ts";
import { until } from "#kit/testing/until.ts";
import { readFortunes } from "../demo/data.ts";
import { startSocialTestbed, type SocialTestbed } from "./social.ts";
import { loadSearchConfig } from "../services/search/config.ts";
import { createEngine } from "../services/search/context.ts";

const root = join(import.meta.dir, "..");

export function searchContract(env: Record<string, string>): void {
  let bed: SocialTestbed;
  let dir: string;
  let alice: bigint, bob: bigint, carol: bigint, dave: bigint, eve: bigint, mallory: bigint;
  const photo = new Map<bigint, bigint>();
  const tang = readFortunes("zh-tang300.fortune");
  const science = readFortunes("en-science.fortune");
  const pets = readFortunes("en-pets.fortune");
  const nightThoughts = tang.find((p) => p.includes("床前明月光"))!;
  const alligator = science.find((p) => p.includes("alligator"))!;
  const bartender = pets.find((p) => /\bbartender\b/.test(p))!;
  const ids: Record<string, bigint> = {};

  const search = (as?: bigint | null) => testClient(SearchService, bed.mesh.url("search"), as);
  const post = async (user: bigint, caption: string, visibility = Visibility.PUBLIC) =>
    (await bed.post(user).createPost({ mediaIds: [photo.get(user)!], caption, visibility })).post!.postId;
  const found = async (query: string, as: bigint | null = null, extra: object = {}) =>
    (await search(as).searchPosts({ query, pageSize: 50, ...extra })).posts.map((v) => v.post!.postId);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "oasis-search-"));
    bed = await startSocialTestbed(["identity", "graph", "media", "post", "search"], { env: { OASIS_SEARCH_DATA_DIR: dir, ...env } });
    [alice, bob, carol, dave, eve, mallory] = (await bed.users([900, 901, 902, 903, 904, 905], { private: (n) => n === 903 })) as [bigint, bigint, bigint, bigint, bigint, bigint];
    for (const u of [alice, bob, carol, dave, eve, mallory]) photo.set(u, await bed.photo(u, 0));
    await bed.graph(bob).follow({ userId: alice });
    await bed.graph(bob).follow({ userId: dave });
    await bed.graph(dave).approveFollowRequest({ userId: bob });
    await bed.graph(eve).block({ userId: bob });
    await bed.graph(bob).mute({ userId: mallory });
    ids.poem = await post(alice, `${nightThoughts}\n#春天 #poetry`);
    ids.alligator = await post(alice, alligator);
    ids.bartender = await post(carol, bartender);
    ids.followers = await post(alice, "lantern festival for friends only", Visibility.FOLLOWERS);
    ids.private = await post(dave, "lantern festival from a private garden");
    ids.blocked = await post(eve, "lantern festival seen by everyone but bob");
    ids.muted = await post(mallory, "lantern festival shouted by mallory");
    ids.public = await post(carol, "lantern festival in public");
    await until(() => found("lantern"), (r) => r.length >= 4, 30_000);
  }, 120_000);

  afterAll(async () => {
    await bed?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("CJK: a two-character word inside a line of a Tang poem, and a hashtag in Chinese", async () => {
    expect(await found("明月")).toEqual([ids.poem!]);
    expect(await found("疑是地上")).toEqual([ids.poem!]);
    expect(await found("#春天")).toEqual([ids.poem!]);
    expect(await found("#poetry 故乡")).toEqual([ids.poem!]);
    expect(await found("明星")).toEqual([]);
  });

  test("typos: one from 5 letters, two from 9; none below 5", async () => {
    expect(await found("alligater ")).toEqual([ids.alligator!]);
    expect(await found("bxrtendrr ")).toEqual([ids.bartender!]);
    expect(await found("pwars ")).toEqual([ids.alligator!]); // "pears", 5 letters: one typo
    expect(await found("lihe ")).toEqual([]); // "line", 4 letters: no typo allowed
  });

  test("prefix on the last word (typeahead), for posts and for handles", async () => {
    expect(await found("alliga")).toEqual([ids.alligator!]);
    const users = await search(bob).searchUsers({ query: "reed_90" });
    expect(users.users.map((u) => u.profile!.handle).sort()).toEqual(["reed_900", "reed_901", "reed_902", "reed_903", "reed_904", "reed_905"].filter((h) => h !== "reed_904"));
    const one = await search(bob).searchUsers({ query: "reed_900" });
    expect(one.users[0]!.profile!.userId).toBe(alice);
    expect(one.users[0]!.relationship!.following).toBe(true);
  });

  test("visibility: followers-only, private, blocked and muted authors", async () => {
    const sorted = (a: bigint[]) => [...a].sort();
    expect(sorted(await found("lantern festival", bob))).toEqual(sorted([ids.followers!, ids.private!, ids.public!]));
    expect(sorted(await found("lantern festival", carol))).toEqual(sorted([ids.blocked!, ids.muted!, ids.public!]));
    expect(sorted(await found("lantern festival", null))).toEqual(sorted([ids.blocked!, ids.muted!, ids.public!]));
  });

  test("filters: author, after, before", async () => {
    expect(await found("lantern", null, { authorId: carol })).toEqual([ids.public!]);
    const t = (await bed.post(carol).getPost({ postId: ids.public! })).post!.createdAt!;
    expect(await found("lantern", null, { after: t })).toEqual([ids.public!]);
    expect((await found("lantern", null, { before: t })).sort()).toEqual([ids.blocked!, ids.muted!].sort());
    const err = await search().searchPosts({ query: "lantern", after: t, before: t }).catch((e) => e);
    expect(violatedFields(err)).toEqual(["after"]);
    expect(errorReason(await search().searchPosts({ query: "!!!" }).catch((e) => e))).toBe("QUERY_EMPTY");
  });

  test("paging: every match once, across pages, while new posts arrive", async () => {
    const made: bigint[] = [];
    for (const [i, q] of pets.slice(0, 23).entries()) made.push(await post(carol, `${q.slice(0, 400)} #pagingtest${i % 2 ? "" : " #pagingeven"}`));
    await until(() => found("#pagingtest"), (r) => r.length === 23, 30_000);
    const seen: bigint[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await search().searchPosts({ query: "#pagingtest", pageSize: 5, pageToken });
      seen.push(...page.posts.map((v) => v.post!.postId));
      pageToken = page.nextPageToken;
      if (pages++ === 1) made.push(await post(carol, "a late arrival #pagingtest"));
    } while (pageToken);
    expect(pages).toBe(5);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBeGreaterThanOrEqual(23);
    expect(new Set(seen)).toEqual(new Set(made.slice(0, seen.length === 23 ? 23 : 24)));
    // The late arrival is indexed from its event: wait until it is counted.
    const counts = (r: { hashtags: Array<{ name: string; postCount: bigint | number }> }) => r.hashtags.map((h) => [h.name, Number(h.postCount)]);
    const tags = await until(() => search().searchHashtags({ query: "#paging" }), (r) => counts(r)[0]?.[1] === 24, 10_000);
    expect(counts(tags)).toEqual([["pagingtest", 24], ["pagingeven", 12]]);
    const trending = await search().listTrendingHashtags({});
    expect(trending.hashtags[0]!.name).toBe("pagingtest");
  });

  test("freshness: a new post is found within 1 s, a deleted one is gone within 1 s", async () => {
    const id = await post(alice, "驿路梨花 a quokka smiles at dawn");
    const t0 = Date.now();
    await until(() => found("quokka"), (r) => r.includes(id), 1_000, 20);
    const newMs = Date.now() - t0;
    await bed.post(alice).deletePost({ postId: id });
    const t1 = Date.now();
    await until(() => found("梨花"), (r) => !r.includes(id), 1_000, 20);
    console.log(`freshness: found after ${newMs} ms, gone after ${Date.now() - t1} ms`);
  });

  test("reindex rebuilds every index from the owners while queries keep answering", async () => {
    const procEnv = { ...bed.mesh.env, OASIS_SEARCH_DATA_DIR: dir, ...env };
    // Drift: the index lost a post (as if an event had been dropped).
    const engine = createEngine(loadSearchConfig(procEnv));
    await engine.open();
    await engine.deletePost(ids.alligator!);
    await engine.close();
    expect(await found("alligator ")).toEqual([]);
    const proc = Bun.spawn([process.execPath, join(root, "services", "search", "reindex.ts")], { env: procEnv, cwd: root, stdout: "pipe", stderr: "pipe" });
    let answered = 0;
    while (proc.exitCode === null) {
      expect(await found("明月")).toEqual([ids.poem!]);
      answered++;
    }
    const out = await new Response(proc.stdout).text();
    expect(await proc.exited).toBe(0);
    expect(out).toMatch(/reindexed 6 users and \d+ posts/);
    await until(() => found("alligator "), (r) => r.includes(ids.alligator!), 5_000);
    console.log(`${out.trim()}; ${answered} searches answered during it`);
  }, 60_000);

  test("the edge's REST routes, with a real token", async () => {
    const token = await bed.token(901);
    const get = async (path: string) => {
      const res = await fetch(`${bed.mesh.url("edge")}${path}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, json: (await res.json()) as any };
    };
    const posts = await get(`/v1/search/posts?query=${encodeURIComponent("明月")}`);
    expect(posts.status).toBe(200);
    expect(posts.json.posts.map((v: any) => v.post.postId)).toEqual([String(ids.poem)]);
    expect(posts.json.posts[0].author.handle).toBe("reed_900");
    const users = await get("/v1/search/users?query=reed_90");
    expect(users.json.users.length).toBe(5);
    const tags = await get(`/v1/search/hashtags?query=${encodeURIComponent("#春")}`);
    expect(tags.json.hashtags[0].name).toBe("春天");
    const trending = await get("/v1/hashtags:trending");
    expect(trending.status).toBe(200);
    expect(trending.json.hashtags.length).toBeGreaterThan(0);
    expect((await get("/v1/search/posts?query=")).status).toBe(400);
  });

  test("profile changes reach results at once: a private account's posts leave non-followers' results, its profile is a header to them", async () => {
    const [frank] = (await bed.users([906])) as [bigint];
    photo.set(frank, await bed.photo(frank, 0));
    await bed.graph(bob).follow({ userId: frank });
    const id = await post(frank, "a heron over the marsh at dusk");
    await until(() => found("heron", carol), (r) => r.includes(id), 5_000);
    await bed.identity(frank).updateProfile({ profile: { userId: frank, bio: "marsh walker", private: true }, updateMask: { paths: ["bio", "private"] } });
    await until(() => found("heron", carol), (r) => !r.includes(id), 5_000);
    expect(await found("heron", null)).toEqual([]);
    expect(await found("heron", bob)).toEqual([id]);
    // The handle itself ranks first (others within one typo follow).
    const frankAs = async (as: bigint | null) => {
      const r = await until(() => search(as).searchUsers({ query: "reed_906" }), (r) => r.users[0]?.profile?.userId !== frank || r.users[0]!.profile!.private, 5_000);
      return r.users.filter((u) => u.profile!.userId === frank).map((u) => [u.profile!.private, u.profile!.bio]);
    };
    expect(await frankAs(carol)).toEqual([[true, ""]]);
    expect(await frankAs(bob)).toEqual([[true, "marsh walker"]]);
    expect(await frankAs(null)).toEqual([]);
  });
}
