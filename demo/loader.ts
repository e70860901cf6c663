/**
 * The demo loader: fills a running mesh with the Reed98 community through the edge's
 * public API only, through the typed client package @oasis/client (clients/ts: Connect
 * calls, the media upload route, token refresh), as the app would. Every
 * create carries a request id or Idempotency-Key derived from the demo data, so a second
 * run changes nothing.
 *
 * Steps: accounts -> sessions -> profiles (bios; every tenth account private) ->
 * follows (each friendship both ways) -> approvals (private accounts accept their
 * requests) -> photos (real images, two thirds of the users) -> posts (photo posts with
 * real captions, hashtags and mentions; the others refer to a friend's post) -> likes
 * (each user likes up to five friends' posts) -> comments (one each) -> tips (each user
 * gives a friend's photo post 1-5 of the drops they earned) -> chats (mutual fans
 * exchange Song poems and English fortunes, some with a photo in chat-images).
 */
import { readFileSync } from "node:fs";
import { imagePath, photoNames, readFortunes } from "./data.ts";
import { captionFor, commentFor } from "./content.ts";
import { Code, ConnectError, createOasisClient, type OasisClient } from "@oasis/client";
import { Visibility } from "@oasis/client/gen/oasis/post/v1/post_pb.ts";
import { nonNegativeIntEnv } from "../kit/env.ts";
import { inParallel } from "../kit/parallel.ts";
import { Progress } from "./progress.ts";
import { demoFollows, demoGraph, demoPassword, type DemoUser } from "./users.ts";

/** Chat lines: Song poems and English love fortunes, short enough for one message. */
const chatLines = [...readFortunes("zh-song100.fortune"), ...readFortunes("en-love.fortune")].filter((l) => l.length <= 500);

export interface StepReport {
  readonly step: string;
  readonly count: number;
  readonly seconds: number;
  readonly rate: number;
}

export interface LoadReport {
  readonly users: number;
  readonly follows: number;
  readonly posts: number;
  readonly photos: number;
  readonly mediaBytes: number;
  readonly likes: number;
  readonly comments: number;
  /** Tips given and their drops. */
  readonly tips: number;
  readonly dropsGiven: number;
  readonly convos: number;
  readonly messages: number;
  readonly steps: StepReport[];
  readonly seconds: number;
  /** Handle of a user to log in as. */
  readonly sampleHandle: string;
}

export interface LoaderOptions {
  /** Calls in flight in each step but the follows (default 16). */
  readonly concurrency?: number;
  /**
   * Follows in flight (default 64): a follow waits mostly on round trips (edge, graph,
   * MariaDB, Redis), not CPU, so more in flight load the 37,624 faster (bench/writes.ts
   * OASIS_BENCH_AB="clients=16,64" measures it).
   */
  readonly followConcurrency?: number;
  /**
   * A slice of the demo (demoSlice()): only the requests the whole load makes whose actor
   * and every input (the friends whose posts it likes, comments on, tips or refers to) are
   * in the slice, each with the same request id and body as in the whole load. On a mesh
   * that holds the whole demo, loading a slice must therefore change no stored record;
   * the end-to-end test checks exactly that without replaying all 37,624 follows.
   * Undefined: every member.
   */
  readonly members?: ReadonlySet<number>;
}

/**
 * The first `seeds` members (in id order) and every member their requests need (their
 * first friend, named in a caption, and their first five friends with a photo post), as
 * a slice for LoaderOptions.members: each seed makes every request it makes in the
 * whole load; the others make those whose inputs are in the slice too.
 */
export function demoSlice(seeds: number): Set<number> {
  const { users, edges } = demoGraph();
  const friends = friendLists(edges);
  const out = new Set<number>();
  for (const u of users.slice(0, seeds)) {
    const f = friends.get(u.n) ?? [];
    for (const n of [u.n, ...f.slice(0, 1), ...f.filter(postsPhoto).slice(0, 5)]) out.add(n);
  }
  return out;
}

/**
 * The members of slice `members` whose post a load of that slice makes (and reports in
 * LoadReport.posts): every photo poster, and each member who refers to a friend's post
 * when that friend is in the slice too.
 */
export function sliceAuthors(members: ReadonlySet<number>): number[] {
  const friends = friendLists(demoGraph().edges);
  return [...members].filter((n) => {
    if (postsPhoto(n)) return true;
    const target = (friends.get(n) ?? []).filter(postsPhoto)[0];
    return target !== undefined && members.has(target);
  });
}

/** Each member's friends, in the graph file's order (the order every choice follows). */
function friendLists(edges: ReadonlyArray<[number, number]>): Map<number, number[]> {
  const friends = new Map<number, number[]>();
  for (const [u, v] of edges) {
    (friends.get(u) ?? friends.set(u, []).get(u)!).push(v);
    (friends.get(v) ?? friends.set(v, []).get(v)!).push(u);
  }
  return friends;
}

/**
 * Two thirds of the members post a photo; the others refer to a friend's photo post.
 * Every later choice (what to refer to, like, comment on) picks among photo posts only,
 * in friend order, so a second run makes exactly the same requests under the same
 * request ids, whatever order the parallel steps finished in the first time.
 */
function postsPhoto(n: number): boolean {
  return n % 3 !== 2;
}

function retryable(err: unknown): boolean {
  return err instanceof ConnectError && (err.code === Code.ResourceExhausted || err.code === Code.Unavailable || err.code === Code.DeadlineExceeded);
}

/** Whether `err` is a ConnectError with one of `codes`. */
function isCode(err: unknown, ...codes: Code[]): boolean {
  return err instanceof ConnectError && codes.includes(err.code);
}

export class DemoLoader {
  /** Signed out, for sign-up and sign-in. */
  private readonly anonymous: OasisClient;
  private readonly edgeUrl: string;
  private readonly concurrency: number;
  private readonly followConcurrency: number;
  readonly userIds = new Map<number, bigint>();
  /** Each member's signed-in client (@oasis/client refreshes its token as needed). */
  readonly clients = new Map<number, OasisClient>();
  readonly postIds = new Map<number, bigint>();
  private readonly steps: StepReport[] = [];
  private friends = new Map<number, number[]>();
  private readonly members: ReadonlySet<number> | undefined;
  private mediaBytes = 0;
  private photos = 0;
  private likes = 0;
  private comments = 0;
  private tips = 0;
  private dropsGiven = 0;
  private convos = 0;
  private messages = 0;

  constructor(edgeUrl: string, opts: LoaderOptions = {}) {
    this.edgeUrl = edgeUrl;
    this.anonymous = createOasisClient({ baseUrl: edgeUrl, timeoutMs: 120_000 });
    this.concurrency = opts.concurrency ?? 16;
    this.followConcurrency = opts.followConcurrency ?? 64;
    this.members = opts.members;
  }

  /** Whether member `n` is loaded (always, without a slice). */
  private inSlice(n: number): boolean {
    return !this.members || this.members.has(n);
  }

  private async step<T>(label: string, items: readonly T[], work: (item: T, i: number) => Promise<number | void>, concurrency = this.concurrency): Promise<void> {
    const p = new Progress(label, items.length);
    await inParallel(items, concurrency, async (item, i) => {
      await work(item, i);
      p.tick();
    });
    const r = p.finish();
    this.steps.push({ step: label, count: r.count, seconds: r.seconds, rate: r.rate });
  }

  /**
   * Retries a call the edge refused for load (429/503) or whose upstream deadline passed
   * (504) after a pause. Safe: every write the loader makes is idempotent (request ids,
   * Idempotency-Keys, or naturally, like Follow and LikePost).
   */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!retryable(err) || attempt >= 20) throw err;
        await Bun.sleep(250 * (attempt + 1));
      }
    }
  }

  async run(): Promise<LoadReport> {
    const started = performance.now();
    const whole = demoGraph();
    // Choices come from the whole graph even for a slice, so each request is the whole load's.
    this.friends = friendLists(whole.edges);
    const users = whole.users.filter((u) => this.inSlice(u.n));
    const edges = whole.edges.filter(([u, v]) => this.inSlice(u) && this.inSlice(v));
    const byN = new Map(users.map((u) => [u.n, u]));
    // Spread over users, so the follows in flight do not queue on one user's rows
    // (users.ts demoFollows); OASIS_DEMO_FOLLOW_ORDER=file keeps the edge file's order.
    const follows = demoFollows(edges, process.env.OASIS_DEMO_FOLLOW_ORDER === "file" ? "file" : "spread");

    await this.step("accounts", users, (u) => this.createAccount(u));
    await this.step("sessions", users, (u) => this.signIn(u));
    await this.step("profiles", users, (u) => this.updateProfile(u));
    // Follows per BatchCreateFollows call; 0: one Follow per follow (bench/README.md, stop 29).
    const followBatch = nonNegativeIntEnv(process.env, "OASIS_DEMO_FOLLOW_BATCH", 100);
    if (followBatch > 0) await this.followInBatches(follows, followBatch);
    else await this.step("follows", follows, ([a, b]) => this.follow(a, b), this.followConcurrency);
    await this.step(
      "approvals",
      users.filter((u) => u.private),
      (u) => this.approveAll(u),
    );
    const photoPosters = users.filter((u) => postsPhoto(u.n));
    const media = new Map<number, bigint>();
    await this.step("photos", photoPosters, async (u) => {
      media.set(u.n, await this.upload(u));
    });
    await this.step("photo posts", photoPosters, (u) => this.createPost(u, media.get(u.n)!));
    await this.step(
      "refer-tos",
      users.filter((u) => !postsPhoto(u.n)),
      (u) => this.referPost(u),
    );
    await this.step("likes", users, (u) => this.like(u));
    await this.step("comments", users, (u) => this.comment(u));
    await this.step("tips", users, (u) => this.tip(u));
    // Each pair keeps its index in the whole load's list (it picks the lines and photo).
    const chats = chatPairs(whole.edges)
      .map((pair, i) => [pair, i] as const)
      .filter(([[a, b]]) => this.inSlice(a) && this.inSlice(b));
    await this.step("chats", chats, ([[a, b], i]) => this.converse(a, b, i));
    return {
      users: users.length,
      follows: follows.length,
      posts: this.postIds.size,
      photos: this.photos,
      mediaBytes: this.mediaBytes,
      likes: this.likes,
      comments: this.comments,
      tips: this.tips,
      dropsGiven: this.dropsGiven,
      convos: this.convos,
      messages: this.messages,
      steps: this.steps,
      seconds: (performance.now() - started) / 1000,
      sampleHandle: byN.get(users[0]!.n)!.handle,
    };
  }

  /**
   * The first `k` friends of `n` whose photo post exists, in the graph file's order. With
   * a slice: undefined unless the whole load's first `k` photo posters among `n`'s
   * friends are all in it, so that a request made from them is the whole load's.
   */
  private photoPostsOfFriends(n: number, k: number): number[] | undefined {
    const posters = (this.friends.get(n) ?? []).filter(postsPhoto);
    if (!this.members) return posters.filter((f) => this.postIds.has(f)).slice(0, k);
    const first = posters.slice(0, k);
    return first.every((f) => this.postIds.has(f)) ? first : undefined;
  }

  /** Member `n`'s signed-in client. */
  private as(n: number): OasisClient {
    return this.clients.get(n)!;
  }

  private async createAccount(u: DemoUser): Promise<void> {
    const res = await this.call(() =>
      this.anonymous.identity.createAccount({
        handle: u.handle,
        email: u.email,
        password: demoPassword,
        displayName: u.displayName,
        requestId: `demo-account-${u.n}`,
      }),
    );
    this.userIds.set(u.n, res.account!.userId);
  }

  private async signIn(u: DemoUser): Promise<void> {
    const client = createOasisClient({ baseUrl: this.edgeUrl, timeoutMs: 120_000 });
    await this.call(() => client.signIn(u.handle, demoPassword));
    this.clients.set(u.n, client);
  }

  private async updateProfile(u: DemoUser): Promise<void> {
    await this.call(() => this.as(u.n).identity.updateProfile({ profile: { userId: this.userIds.get(u.n)!, bio: u.bio, private: u.private }, updateMask: { paths: ["bio", "private"] } }));
  }

  private async follow(a: number, b: number): Promise<void> {
    await this.call(() => this.as(a).graph.follow({ userId: this.userIds.get(b)! }));
  }

  /**
   * The follows step as a follow import (OASIS_DEMO_FOLLOW_BATCH=<n>, default 100; 0
   * sends one Follow per follow, 64 in flight, as before stop 29): each
   * member's follows, in `follows`' order, go in BatchCreateFollows calls of up to `n`
   * (members in the order of their first follow there), 8 calls in flight. The same
   * follows as one Follow each; the step's progress counts follows, not calls. No
   * request_id: a slice's batch of a member holds only the slice's targets, so it is not
   * the whole load's request, and a follow import is idempotent without a key (a repeat
   * finds every edge and writes nothing), which is what the retries rely on.
   */
  private async followInBatches(follows: ReadonlyArray<readonly [number, number]>, n: number): Promise<void> {
    const byFollower = new Map<number, number[]>();
    for (const [a, b] of follows) (byFollower.get(a) ?? byFollower.set(a, []).get(a)!).push(b);
    const calls: Array<[number, number[]]> = [];
    for (const [a, bs] of byFollower) for (let i = 0; i < bs.length; i += n) calls.push([a, bs.slice(i, i + n)]);
    const p = new Progress("follows", follows.length);
    await inParallel(calls, 8, async ([a, bs]) => {
      await this.call(() => this.as(a).graph.batchCreateFollows({ userIds: bs.map((b) => this.userIds.get(b)!) }));
      p.tick(bs.length);
    });
    const r = p.finish();
    this.steps.push({ step: "follows", count: r.count, seconds: r.seconds, rate: r.rate });
  }

  private async approveAll(u: DemoUser): Promise<void> {
    for (;;) {
      const res = await this.call(() => this.as(u.n).graph.listFollowRequests({ pageSize: 1000 }));
      if (res.requests.length === 0) return;
      // Approvals are independent of each other: four in flight per member.
      await inParallel(res.requests, 4, async (r) => {
        await this.call(() => this.as(u.n).graph.approveFollowRequest({ userId: r.userId }));
      });
    }
  }

  private async upload(u: DemoUser): Promise<bigint> {
    const name = photoNames[u.n % photoNames.length]!;
    const bytes = new Uint8Array(readFileSync(imagePath(name)));
    const res = await this.call(() => this.as(u.n).upload("post-images", bytes, name.endsWith(".png") ? "image/png" : "image/jpeg", `demo-photo-${u.n}`));
    this.mediaBytes += bytes.byteLength;
    this.photos++;
    return res.media!.id;
  }

  private async createPost(u: DemoUser, mediaId: bigint): Promise<void> {
    const friend = this.friends.get(u.n)?.[0];
    const res = await this.call(() =>
      this.as(u.n).post.createPost({
        mediaIds: [mediaId],
        caption: captionFor(u.n, friend),
        visibility: u.n % 17 === 5 ? Visibility.FOLLOWERS : Visibility.PUBLIC,
        requestId: `demo-post-${u.n}`,
      }),
    );
    this.postIds.set(u.n, res.post!.postId);
  }

  private async referPost(u: DemoUser): Promise<void> {
    const target = this.photoPostsOfFriends(u.n, 1)?.[0];
    if (target === undefined) return;
    try {
      const res = await this.call(() => this.as(u.n).post.createPost({ referPostId: this.postIds.get(target)!, caption: commentFor(u.n), requestId: `demo-post-${u.n}` }));
      this.postIds.set(u.n, res.post!.postId);
    } catch (err) {
      // A friend's followers-only post behind a private account may not be visible yet (400).
      if (!isCode(err, Code.InvalidArgument, Code.FailedPrecondition, Code.OutOfRange)) throw err;
    }
  }

  private async like(u: DemoUser): Promise<void> {
    // A member's likes are independent of each other: all in flight at once.
    await Promise.all(
      (this.photoPostsOfFriends(u.n, 5) ?? []).map(async (f) => {
        try {
          await this.call(() => this.as(u.n).interaction.likePost({ postId: this.postIds.get(f)! }));
          this.likes++;
        } catch (err) {
          if (!isCode(err, Code.NotFound)) throw err;
        }
      }),
    );
  }

  private async comment(u: DemoUser): Promise<void> {
    const f = this.photoPostsOfFriends(u.n, 2)?.[1];
    if (f === undefined) return;
    try {
      await this.call(() => this.as(u.n).interaction.createComment({ postId: this.postIds.get(f)!, text: commentFor(u.n + 1), requestId: `demo-comment-${u.n}` }));
      this.comments++;
    } catch (err) {
      if (!isCode(err, Code.NotFound)) throw err;
    }
  }

  /** Tips the first friend's photo post it can see with 1-5 drops (of the welcome grant). */
  private async tip(u: DemoUser): Promise<void> {
    const f = this.photoPostsOfFriends(u.n, 1)?.[0];
    if (f === undefined) return;
    try {
      const res = await this.call(() => this.as(u.n).wallet.tipPost({ postId: this.postIds.get(f)!, amount: BigInt(1 + (u.n % 5)), requestId: `demo-tip-${u.n}` }));
      this.tips++;
      this.dropsGiven += Number(res.transfer!.amount);
    } catch (err) {
      // 404: a followers-only post not visible to this friend; failed_precondition: the
      // welcome grant (from account_created, asynchronous) has not arrived yet.
      if (!isCode(err, Code.NotFound, Code.FailedPrecondition)) throw err;
    }
  }
  /**
   * One convo between mutual fans `a` and `b`: four lines, alternating, the first with a
   * photo in every fifth convo. Request ids make a second run send nothing new.
   */
  private async converse(a: number, b: number, i: number): Promise<void> {
    const convo = (await this.call(() => this.as(a).chat.createConvo({ memberIds: [this.userIds.get(b)!] }))).convo!;
    this.convos++;
    for (let k = 0; k < 4; k++) {
      const from = k % 2 === 0 ? a : b;
      const mediaIds: bigint[] = [];
      if (k === 0 && i % 5 === 0) {
        const name = photoNames[i % photoNames.length]!;
        const bytes = new Uint8Array(readFileSync(imagePath(name)));
        const up = await this.call(() => this.as(from).upload("chat-images", bytes, name.endsWith(".png") ? "image/png" : "image/jpeg", `demo-chat-photo-${a}-${b}`));
        mediaIds.push(up.media!.id);
      }
      const text = chatLines[(i * 4 + k) % chatLines.length]!;
      await this.call(() => this.as(from).chat.sendMessage({ convoId: convo.convoId, text, mediaIds, requestId: `demo-chat-${a}-${b}-${k}` }));
      this.messages++;
    }
  }
}

/**
 * Friend pairs that chat: the first 120 friendships in file order where neither side
 * already has two chats, so no sender nears chat's limits (30 messages a minute, 20 new
 * convos a day).
 */
function chatPairs(edges: ReadonlyArray<[number, number]>): Array<[number, number]> {
  const count = new Map<number, number>();
  const out: Array<[number, number]> = [];
  for (const [u, v] of edges) {
    if ((count.get(u) ?? 0) >= 2 || (count.get(v) ?? 0) >= 2) continue;
    count.set(u, (count.get(u) ?? 0) + 1);
    count.set(v, (count.get(v) ?? 0) + 1);
    out.push([u, v]);
    if (out.length === 120) break;
  }
  return out;
}
