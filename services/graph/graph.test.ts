/**
 * GraphService rules against real identity and graph processes: follows (idempotent,
 * counts), private accounts and requests (also when identity's private flag changes
 * later), blocks, mutes, lists and their visibility, the Redis caches rebuilt from MySQL
 * when cold, and the events the outbox publishes. Users are Reed98 members.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code } from "@connectrpc/connect";
import { FollowState } from "#gen/oasis/graph/v1/graph_pb.ts";
import { FollowCreatedSchema, FollowRemovedReason, FollowRemovedSchema, FollowRequestedSchema, BlockCreatedSchema, MuteCreatedSchema } from "#gen/oasis/graph/v1/events_pb.ts";
import { connectBus, type Bus } from "#kit/bus.ts";
import { on, startConsumer, type RunningConsumer } from "#kit/consumer.ts";
import { errorReason, violatedFields } from "#kit/errors.ts";
import { createLogger } from "#kit/logger.ts";
import { createRedis, deleteKeysWithPrefix } from "#kit/redis.ts";
import { until } from "#kit/testing/until.ts";
import { readEdges } from "../../demo/data.ts";
import { startGraphTestbed, type GraphTestbed } from "../../testbeds/graph.ts";
import { failure } from "#kit/testing/errors.ts";

let bed: GraphTestbed;
let ids: bigint[];
// Thirty-six real members; member indexes 5 and 30 get private accounts.
const members = [...new Set(readEdges().flat())].slice(20, 56);

/** Graph events seen on the bus, by event id (a redelivery is not a second event). */
const events = new Map<bigint, { type: string; from: bigint; to: bigint; detail: string }>();
let bus: Bus;
let consumer: RunningConsumer;
const log = createLogger("graph-test", "silent");

beforeAll(async () => {
  // The point lookup is off by default (design note 30); on here, so both paths are tested.
  bed = await startGraphTestbed({ env: { OASIS_GRAPH_POINT_LOOKUP_MAX: "4" } });
  ids = await bed.accounts(members, { private: (n) => n === members[5] || n === members[30] });
  // Graph's events as any consumer gets them: JetStream, after the outbox relay.
  bus = await connectBus({ url: bed.mesh.env.OASIS_NATS_URL ?? "nats://127.0.0.1:4222", namespace: bed.mesh.namespace, name: "graph-test", log });
  const record = (type: string, from: bigint, to: bigint, detail: string, eventId: bigint) => {
    events.set(eventId, { type, from, to, detail });
  };
  consumer = await startConsumer({
    bus,
    log,
    name: "graph-test-events",
    handlers: [
      on(FollowCreatedSchema, async (e, m) => record("follow_created", e.followerId, e.followeeId, `mutual=${e.mutual}${e.followeeMuting ? " muted" : ""}`, m.eventId)),
      on(FollowRequestedSchema, async (e, m) => record("follow_requested", e.requesterId, e.targetId, "", m.eventId)),
      on(FollowRemovedSchema, async (e, m) => record("follow_removed", e.followerId, e.followeeId, FollowRemovedReason[e.reason], m.eventId)),
      on(BlockCreatedSchema, async (e, m) => record("block_created", e.blockerId, e.blockedId, "", m.eventId)),
      on(MuteCreatedSchema, async (e, m) => record("mute_created", e.muterId, e.mutedId, "", m.eventId)),
    ],
  });
});
afterAll(async () => {
  await consumer?.stop();
  await bus?.close();
  await bed?.stop();
});

describe("follow", () => {
  test("follow and unfollow are idempotent and keep counts exact", async () => {
    const [a, b] = [ids[0]!, ids[1]!];
    const g = bed.graph(a);
    expect((await g.follow({ userId: b })).state).toBe(FollowState.FOLLOWING);
    expect((await g.follow({ userId: b })).state).toBe(FollowState.FOLLOWING);
    expect((await bed.graph().getCounts({ userId: b })).counts).toMatchObject({ followers: 1n, following: 0n });
    expect((await bed.graph().getCounts({ userId: a })).counts).toMatchObject({ followers: 0n, following: 1n });
    const back = await bed.graph(b).follow({ userId: a });
    expect(back.relationship).toMatchObject({ following: true, followedBy: true, mutual: true });
    await g.unfollow({ userId: b });
    await g.unfollow({ userId: b });
    expect((await bed.graph().getCounts({ userId: b })).counts).toMatchObject({ followers: 0n, following: 1n });
    expect((await g.getRelationship({ userId: b })).relationship).toMatchObject({ following: false, followedBy: true, mutual: false });
  });

  test("self, unknown users and bad ids are refused clearly", async () => {
    const g = bed.graph(ids[0]!);
    expect(errorReason(await failure(g.follow({ userId: ids[0]! })))).toBe("SELF_RELATION");
    expect(errorReason(await failure(g.follow({ userId: 4242n })))).toBe("USER_NOT_FOUND");
    expect(violatedFields(await failure(g.follow({ userId: 0n })))).toEqual(["user_id"]);
    expect((await failure(bed.graph().follow({ userId: ids[1]! }))).code).toBe(Code.Unauthenticated);
  });
});

describe("private accounts", () => {
  test("a follow becomes a request the owner approves or rejects", async () => {
    const owner = ids[5]!;
    const [c, d] = [ids[2]!, ids[3]!];
    expect((await bed.graph(c).follow({ userId: owner })).state).toBe(FollowState.REQUESTED);
    expect((await bed.graph(d).follow({ userId: owner })).state).toBe(FollowState.REQUESTED);
    const pending = await bed.graph(owner).listFollowRequests({});
    expect(pending.requests.map((r) => r.userId)).toEqual([d, c]);
    const approved = await bed.graph(owner).approveFollowRequest({ userId: c });
    expect(approved.relationship?.followedBy).toBe(true);
    await bed.graph(owner).approveFollowRequest({ userId: c }); // again: idempotent
    await bed.graph(owner).rejectFollowRequest({ userId: d });
    expect(errorReason(await failure(bed.graph(owner).approveFollowRequest({ userId: d })))).toBe("FOLLOW_REQUEST_NOT_FOUND");
    expect((await bed.graph().getCounts({ userId: owner })).counts?.followers).toBe(1n);
    // The private account's lists: its follower sees them, others do not.
    expect((await bed.graph(c).listFollowers({ userId: owner })).users.map((u) => u.userId)).toEqual([c]);
    expect(errorReason(await failure(bed.graph(d).listFollowers({ userId: owner })))).toBe("PRIVATE_ACCOUNT");
    expect(errorReason(await failure(bed.graph().listFollowing({ userId: owner })))).toBe("PRIVATE_ACCOUNT");
  });
});

describe("blocks and mutes", () => {
  test("blocking removes follows both ways and stops new ones", async () => {
    const [e, f] = [ids[6]!, ids[7]!];
    await bed.graph(e).follow({ userId: f });
    await bed.graph(f).follow({ userId: e });
    const blocked = await bed.graph(e).block({ userId: f });
    expect(blocked.relationship).toMatchObject({ blocking: true, following: false, followedBy: false });
    expect((await bed.graph().batchGetCounts({ userIds: [e, f] })).counts.map((c) => [c.followers, c.following])).toEqual([
      [0n, 0n],
      [0n, 0n],
    ]);
    const refused = await failure(bed.graph(f).follow({ userId: e }));
    expect(refused.code).toBe(Code.PermissionDenied);
    expect(errorReason(refused)).toBe("BLOCKED");
    expect(errorReason(await failure(bed.graph(e).follow({ userId: f })))).toBe("BLOCKED");
    expect((await bed.graph(f).getRelationship({ userId: e })).relationship?.blockedBy).toBe(true);
    expect(errorReason(await failure(bed.graph(f).listFollowers({ userId: e })))).toBe("BLOCKED");
    await bed.graph(e).unblock({ userId: f });
    expect((await bed.graph(f).follow({ userId: e })).state).toBe(FollowState.FOLLOWING);
  });

  test("mute shows in the relationship and is idempotent", async () => {
    const [g, h] = [ids[8]!, ids[9]!];
    await bed.graph(g).mute({ userId: h });
    await bed.graph(g).mute({ userId: h });
    const rel = await bed.graph(g).batchGetRelationships({ userIds: [h, ids[10]!, h] });
    expect(rel.relationships.map((r) => [r.userId, r.muting])).toEqual([
      [h, true],
      [ids[10]!, false],
    ]);
    await bed.graph(g).unmute({ userId: h });
    expect((await bed.graph(g).getRelationship({ userId: h })).relationship?.muting).toBe(false);
  });
});

describe("lists", () => {
  test("newest first, keyset pages that return each follower once", async () => {
    const target = ids[11]!;
    const followers = ids.slice(0, 5);
    for (const f of followers) await bed.graph(f).follow({ userId: target });
    const seen: bigint[] = [];
    let token = "";
    do {
      const page = await bed.graph().listFollowers({ userId: target, pageSize: 2, pageToken: token });
      expect(page.users.length).toBeLessThanOrEqual(2);
      seen.push(...page.users.map((u) => u.userId));
      token = page.nextPageToken;
    } while (token);
    expect(seen).toEqual([...followers].reverse());
    const bad = await failure(bed.graph().listFollowers({ userId: target, pageToken: "garbage" }));
    expect(violatedFields(bad)).toEqual(["page_token"]);
    const ids2 = await bed.graph("service").listFollowerIds({ userId: target });
    expect([...ids2.userIds].sort()).toEqual([...followers].sort());
    expect(ids2.total).toBe(5n);
    // Internal methods need the mesh credential: a call from outside the mesh is refused.
    expect((await failure(bed.graph().listFollowerIds({ userId: target }))).code).toBe(Code.PermissionDenied);
  });
});

describe("private flag changes", () => {
  test("an account made private after graph saw it public: new follows become requests", async () => {
    const [owner, oldFan, newFan] = [ids[16]!, ids[17]!, ids[18]!];
    // Graph learns of owner as public (it answers FOLLOWING and remembers the flag).
    expect((await bed.graph(oldFan).follow({ userId: owner })).state).toBe(FollowState.FOLLOWING);
    expect((await bed.graph().listFollowers({ userId: owner })).users.map((u) => u.userId)).toEqual([oldFan]);
    await bed.identity(owner).updateProfile({ profile: { userId: owner, private: true }, updateMask: { paths: ["private"] } });
    // identity's profile_updated reaches graph through the bus: its public lists close.
    const closed = await until(
      () => failure(bed.graph().listFollowers({ userId: owner })).catch(() => undefined),
      (err) => err !== undefined && errorReason(err) === "PRIVATE_ACCOUNT",
    );
    expect(closed && errorReason(closed)).toBe("PRIVATE_ACCOUNT");
    expect((await bed.graph(newFan).follow({ userId: owner })).state).toBe(FollowState.REQUESTED);
    expect((await bed.graph(owner).listFollowRequests({})).requests.map((r) => r.userId)).toEqual([newFan]);
    // The follow made while public stays.
    expect((await bed.graph(oldFan).getRelationship({ userId: owner })).relationship?.following).toBe(true);
    expect((await bed.graph().getCounts({ userId: owner })).counts).toMatchObject({ followers: 1n, following: 0n });
  });
});

describe("caches", () => {
  test("with graph's Redis keys gone, counts, lists and relationships are rebuilt from MySQL", async () => {
    const [p, q, r, s] = [ids[12]!, ids[13]!, ids[14]!, ids[15]!];
    const owner = ids[5]!; // private
    await bed.graph(p).follow({ userId: q });
    await bed.graph(p).follow({ userId: r });
    await bed.graph(q).follow({ userId: p });
    await bed.graph(r).follow({ userId: p });
    await bed.graph(s).follow({ userId: p });
    await bed.graph(s).block({ userId: q });
    await bed.graph(p).mute({ userId: s });
    expect((await bed.graph(p).follow({ userId: owner })).state).toBe(FollowState.REQUESTED);

    const read = async () => {
      const all = [p, q, r, s, owner];
      const counts = await bed.graph().batchGetCounts({ userIds: all });
      const one = await bed.graph().getCounts({ userId: p });
      const followers = await bed.graph().listFollowers({ userId: p, pageSize: 2 });
      const followersNext = await bed.graph().listFollowers({ userId: p, pageToken: followers.nextPageToken });
      const following = await bed.graph().listFollowing({ userId: p });
      const mutual = await bed.graph(p).listMutualFans({ userId: p });
      const ofP = await bed.graph(p).batchGetRelationships({ userIds: [q, r, s, owner] });
      const ofS = await bed.graph(s).batchGetRelationships({ userIds: [p, q] });
      const ids2 = await bed.graph("service").listFollowerIds({ userId: p });
      return {
        counts: counts.counts.map((c) => [c.userId, c.followers, c.following]),
        one: [one.counts?.followers, one.counts?.following],
        followers: [...followers.users, ...followersNext.users].map((u) => u.userId),
        following: following.users.map((u) => u.userId),
        mutual: mutual.users.map((u) => u.userId).sort(),
        ofP: ofP.relationships.map((x) => [x.userId, x.following, x.followedBy, x.mutual, x.requested, x.blocking, x.blockedBy, x.muting]),
        ofS: ofS.relationships.map((x) => [x.userId, x.following, x.followedBy, x.blocking, x.blockedBy]),
        followerIds: [...ids2.userIds].sort(),
      };
    };
    const warm = await read();
    // What the warm caches say is the real state (so an empty cache could not pass).
    expect(warm.one).toEqual([3n, 2n]);
    expect(warm.followers).toEqual([s, r, q]);
    expect(warm.following).toEqual([r, q]);
    expect(warm.mutual).toEqual([q, r].sort());
    expect(warm.ofP).toEqual([
      [q, true, true, true, false, false, false, false],
      [r, true, true, true, false, false, false, false],
      [s, false, true, false, false, false, false, true],
      [owner, false, false, false, true, false, false, false],
    ]);
    expect(warm.ofS).toEqual([
      [p, true, false, false, false],
      [q, false, false, true, false],
    ]);

    // Cold: every counts, list and relation-set key (values and versions) is gone.
    const redisUrl = bed.mesh.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379";
    for (const name of ["counts", "list", "rel"]) {
      expect({ name, deleted: (await deleteKeysWithPrefix(redisUrl, `${bed.graphRedisPrefix}${name}:`)) > 0 }).toEqual({ name, deleted: true });
    }
    expect(await read()).toEqual(warm);
    // The reads filled the caches again.
    const redis = createRedis({ url: redisUrl, keyPrefix: bed.graphRedisPrefix, log });
    try {
      expect(await redis.exists(`counts:${p}`, `list:followers:${p}`, `list:following:${p}`, `rel:${p}`)).toBe(4);
    } finally {
      redis.disconnect();
    }
    expect(await read()).toEqual(warm);
  });

  test("a question about a few users, lists cold, is answered from MySQL without loading the lists, as the lists would answer", async () => {
    const [p, q, r, s, t] = [ids[21]!, ids[22]!, ids[23]!, ids[24]!, ids[25]!];
    await bed.graph(p).follow({ userId: q });
    await bed.graph(r).follow({ userId: p });
    await bed.graph(p).block({ userId: s });
    await bed.graph(p).mute({ userId: t });
    const redisUrl = bed.mesh.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379";
    await deleteKeysWithPrefix(redisUrl, `${bed.graphRedisPrefix}list:`);
    const shape = (rels: Array<{ userId: bigint; following: boolean; followedBy: boolean; blocking: boolean; muting: boolean }>) =>
      rels.map((x) => [x.userId, x.following, x.followedBy, x.blocking, x.muting]);
    // Four users (OASIS_GRAPH_POINT_LOOKUP_MAX here): one SQL statement, lists left cold.
    const few = shape((await bed.graph(p).batchGetRelationships({ userIds: [q, r, s, t] })).relationships);
    const redis = createRedis({ url: redisUrl, keyPrefix: bed.graphRedisPrefix, log });
    try {
      expect(await redis.exists(`list:followers:${p}`, `list:following:${p}`)).toBe(0);
      // Five: the lists are loaded (and cached), and they say the same about those four.
      const five = shape((await bed.graph(p).batchGetRelationships({ userIds: [q, r, s, t, ids[0]!] })).relationships);
      expect(await redis.exists(`list:followers:${p}`, `list:following:${p}`)).toBe(2);
      expect(five.slice(0, 4)).toEqual(few);
      // Now cached, the four are answered from the lists, the same again.
      expect(shape((await bed.graph(p).batchGetRelationships({ userIds: [q, r, s, t] })).relationships)).toEqual(few);
    } finally {
      redis.disconnect();
    }
    expect(few).toEqual([
      [q, true, false, false, false],
      [r, false, true, false, false],
      [s, false, false, true, false],
      [t, false, false, false, true],
    ]);
  });
});

describe("list relationships", () => {
  test("ListRelationships pages every non-empty relationship of the caller, ascending, as BatchGetRelationships says; absent users relate not at all", async () => {
    const [p, q, r, s, t] = [ids[21]!, ids[22]!, ids[23]!, ids[24]!, ids[25]!];
    const owner = ids[5]!; // private: p's follow is a request
    await bed.graph(p).follow({ userId: q });
    await bed.graph(q).follow({ userId: p });
    await bed.graph(r).follow({ userId: p });
    await bed.graph(p).block({ userId: s });
    await bed.graph(p).mute({ userId: t });
    await bed.graph(p).follow({ userId: owner });
    const all = async (viewer: bigint, pageSize: number) => {
      const out = [];
      let token = "";
      let pages = 0;
      do {
        const page = await bed.graph(viewer).listRelationships({ pageSize, pageToken: token });
        out.push(...page.relationships);
        token = page.nextPageToken;
        pages++;
      } while (token);
      return { rels: out, pages };
    };
    const nonEmpty = (x: { following: boolean; followedBy: boolean; requested: boolean; requestedBy: boolean; blocking: boolean; blockedBy: boolean; muting: boolean }) =>
      x.following || x.followedBy || x.requested || x.requestedBy || x.blocking || x.blockedBy || x.muting;
    for (const viewer of [p, q, s, owner]) {
      const whole = await all(viewer, 0);
      expect(whole.pages).toBe(1);
      // Every member, asked one by one in a batch: the non-empty ones are exactly the list.
      const others = ids.filter((id) => id !== viewer);
      const batch = (await bed.graph(viewer).batchGetRelationships({ userIds: others })).relationships.filter(nonEmpty);
      batch.sort((a, b) => (a.userId < b.userId ? -1 : 1));
      expect({ viewer, rels: whole.rels }).toEqual({ viewer, rels: batch });
      // Pages of two say the same.
      const paged = await all(viewer, 2);
      expect(paged.rels).toEqual(whole.rels);
      expect(paged.pages).toBe(Math.max(1, Math.ceil(whole.rels.length / 2)));
    }
    const ofP = (await all(p, 0)).rels;
    const byId = new Map(ofP.map((x) => [x.userId, x]));
    expect([q, r, s, t, owner].map((id) => { const x = byId.get(id)!; return [x.following, x.followedBy, x.mutual, x.requested, x.blocking, x.muting]; })).toEqual([
      [true, true, true, false, false, false],
      [false, true, false, false, false, false],
      [false, false, false, false, true, false],
      [false, false, false, false, false, true],
      [false, false, false, true, false, false],
    ]);
    const ofS = (await all(s, 0)).rels.find((x) => x.userId === p)!;
    expect([ofS.blockedBy, ofS.blocking]).toEqual([true, false]);
    const ofOwner = (await all(owner, 0)).rels.find((x) => x.userId === p)!;
    expect(ofOwner.requestedBy).toBe(true);
    // A token is the caller's own: another caller's, or garbage, is invalid_argument.
    const first = await bed.graph(p).listRelationships({ pageSize: 1 });
    expect(first.nextPageToken).not.toBe("");
    expect((await failure(bed.graph(q).listRelationships({ pageToken: first.nextPageToken }))).code).toBe(Code.InvalidArgument);
    expect((await failure(bed.graph(p).listRelationships({ pageToken: "nope" }))).code).toBe(Code.InvalidArgument);
    expect((await failure(bed.graph().listRelationships({}))).code).toBe(Code.Unauthenticated);
  });
});

describe("events", () => {
  test("a repeated follow emits one follow_created; a block between mutual fans two follow_removed and one block_created", async () => {
    const [u, v] = [ids[19]!, ids[20]!];
    await Promise.all([1, 2, 3].map(() => bed.graph(u).follow({ userId: v })));
    await bed.graph(u).follow({ userId: v });
    await bed.graph(v).follow({ userId: u });
    await bed.graph(v).follow({ userId: u });
    await Promise.all([1, 2].map(() => bed.graph(u).block({ userId: v })));
    await bed.graph(u).block({ userId: v });
    // A last event after all the others: the outbox publishes in order and the consumer
    // handles in order, so once it is here every earlier event is too.
    await bed.graph(u).mute({ userId: v });
    const between = () => [...events.values()].filter((e) => (e.from === u && e.to === v) || (e.from === v && e.to === u));
    await until(async () => between(), (list) => list.some((e) => e.type === "mute_created"));
    // (Without the mute_created the comparison below fails, showing what did arrive.)
    const seen = between().map((e) => [e.type, e.from, e.to, e.detail]);
    expect(seen).toEqual([
      ["follow_created", u, v, "mutual=false"],
      ["follow_created", v, u, "mutual=true"],
      ["follow_removed", u, v, "BLOCK"],
      ["follow_removed", v, u, "BLOCK"],
      ["block_created", u, v, ""],
      ["mute_created", u, v, ""],
    ]);
  });

  test("follow_created says whether the follow is mutual and whether the followee mutes the follower, all four ways", async () => {
    // Four members of their own (the others' relationships are other tests' answers).
    const [w, x, y, z] = (await bed.accounts([...new Set(readEdges().flat())].slice(56, 60))) as [bigint, bigint, bigint, bigint];
    await bed.graph(x).mute({ userId: w });
    await bed.graph(w).follow({ userId: x }); // x mutes w, x does not follow w
    await bed.graph(x).follow({ userId: w }); // w follows x, w mutes nobody
    await bed.graph(z).follow({ userId: y }); // neither
    await bed.graph(z).mute({ userId: y });
    await bed.graph(y).follow({ userId: z }); // z follows y and mutes y
    const mine = new Set([w, x, y, z]);
    const seen = () => [...events.values()].filter((e) => e.type === "follow_created" && mine.has(e.from)).map((e) => [e.from, e.to, e.detail]);
    expect(await until(async () => seen(), (list) => list.length >= 4)).toEqual([
      [w, x, "mutual=false muted"],
      [x, w, "mutual=true"],
      [z, y, "mutual=false"],
      [y, z, "mutual=true muted"],
    ]);
    expect((await bed.graph(y).getRelationship({ userId: z })).relationship).toMatchObject({ following: true, followedBy: true, mutual: true });
    expect((await bed.graph().batchGetCounts({ userIds: [w, x, y, z] })).counts.map((c) => [c.followers, c.following])).toEqual([[1n, 1n], [1n, 1n], [1n, 1n], [1n, 1n]]);
  });
});

describe("batch create follows", () => {
  test("a blocked target refuses the whole batch; nothing is written", async () => {
    const [a, d, x] = [ids[26]!, ids[29]!, ids[31]!];
    await bed.graph(x).block({ userId: a });
    const err = await failure(bed.graph(a).batchCreateFollows({ userIds: [d, x] }));
    expect([err.code, errorReason(err)]).toEqual([Code.PermissionDenied, "BLOCKED"]);
    expect((await bed.graph(a).getRelationship({ userId: d })).relationship?.following).toBe(false);
    expect((await bed.graph().batchGetCounts({ userIds: [a, d] })).counts.map((c) => [c.followers, c.following])).toEqual([
      [0n, 0n],
      [0n, 0n],
    ]);
  });

  test("bad items: a field violation each (self, repeats), unknown users, empty and anonymous calls", async () => {
    const [a, c] = [ids[26]!, ids[28]!];
    const g = bed.graph(a);
    const bad = await failure(g.batchCreateFollows({ userIds: [a, c, c, a] }));
    expect([bad.code, errorReason(bad), violatedFields(bad)]).toEqual([Code.InvalidArgument, "SELF_RELATION", ["user_ids[0]", "user_ids[2]", "user_ids[3]"]]);
    const repeat = await failure(g.batchCreateFollows({ userIds: [c, c] }));
    expect([repeat.code, violatedFields(repeat)]).toEqual([Code.InvalidArgument, ["user_ids[1]"]]);
    expect(errorReason(await failure(g.batchCreateFollows({ userIds: [c, 4242n] })))).toBe("USER_NOT_FOUND");
    expect(violatedFields(await failure(g.batchCreateFollows({ userIds: [] })))).toEqual(["user_ids"]);
    expect(violatedFields(await failure(g.batchCreateFollows({ userIds: [c, 0n] })))).toEqual(["user_ids[1]"]);
    expect(violatedFields(await failure(g.batchCreateFollows({ userIds: [c], requestId: "no spaces" })))).toEqual(["request_id"]);
    expect((await failure(bed.graph().batchCreateFollows({ userIds: [c] }))).code).toBe(Code.Unauthenticated);
    expect((await bed.graph(a).getRelationship({ userId: c })).relationship?.following).toBe(false);
  });

  test("follows as Follow would, once: public followed, private asked, existing kept; counts exact, events once; a retry by request_id replays", async () => {
    const [a, b, c, d, p, m, f] = [ids[26]!, ids[27]!, ids[28]!, ids[29]!, ids[30]!, ids[32]!, ids[33]!];
    await bed.graph(a).follow({ userId: b });
    await bed.graph(m).mute({ userId: a });
    await bed.graph(f).follow({ userId: a });
    const g = bed.graph(a);
    const req = { userIds: [b, c, p, m, f], requestId: "import-1" };
    const first = await g.batchCreateFollows(req);
    expect(first.results.map((r) => [r.state, r.relationship?.userId, r.relationship?.following, r.relationship?.requested, r.relationship?.mutual])).toEqual([
      [FollowState.FOLLOWING, b, true, false, false],
      [FollowState.FOLLOWING, c, true, false, false],
      [FollowState.REQUESTED, p, false, true, false],
      [FollowState.FOLLOWING, m, true, false, false],
      [FollowState.FOLLOWING, f, true, false, true],
    ]);
    // The same key and request: the first response, nothing written again.
    expect(await g.batchCreateFollows(req)).toEqual(first);
    const reused = await failure(g.batchCreateFollows({ userIds: [c], requestId: "import-1" }));
    expect([reused.code, violatedFields(reused)]).toEqual([Code.InvalidArgument, ["request_id"]]);
    // Without a key, a repeat finds every edge and request and writes nothing.
    expect((await g.batchCreateFollows({ userIds: [c, p, f] })).results.map((r) => r.state)).toEqual([FollowState.FOLLOWING, FollowState.REQUESTED, FollowState.FOLLOWING]);
    expect((await bed.graph().batchGetCounts({ userIds: [a, b, c, p, m, f] })).counts.map((x) => [x.followers, x.following])).toEqual([
      [1n, 4n],
      [1n, 0n],
      [1n, 0n],
      [0n, 0n],
      [1n, 0n],
      [1n, 1n],
    ]);
    expect((await bed.graph(p).listFollowRequests({})).requests.map((r) => r.userId)).toEqual([a]);
    expect((await bed.graph(c).getRelationship({ userId: a })).relationship?.followedBy).toBe(true);
    // A last event after the others (the outbox publishes in order, the consumer handles in order).
    await g.mute({ userId: d });
    const fromA = () => [...events.values()].filter((e) => e.from === a);
    await until(async () => fromA(), (list) => list.some((e) => e.type === "mute_created"));
    expect(fromA().map((e) => [e.type, e.to, e.detail])).toEqual([
      ["follow_created", b, "mutual=false"],
      ["follow_created", c, "mutual=false"],
      ["follow_requested", p, ""],
      ["follow_created", m, "mutual=false muted"],
      ["follow_created", f, "mutual=true"],
      ["mute_created", d, ""],
    ]);
  });

  test("batches and Follows of the same pairs at once: each edge counted and announced once", async () => {
    const q = ids[34]!;
    const targets = [ids[35]!, ids[27]!, ids[28]!, ids[29]!];
    const before = (await bed.graph().batchGetCounts({ userIds: targets })).counts.map((c) => c.followers);
    await Promise.all([
      bed.graph(q).batchCreateFollows({ userIds: targets }),
      bed.graph(q).batchCreateFollows({ userIds: [...targets].reverse() }),
      ...targets.map((t) => bed.graph(q).follow({ userId: t })),
    ]);
    expect((await bed.graph().batchGetCounts({ userIds: [q, ...targets] })).counts.map((c) => [c.followers, c.following])).toEqual([
      [0n, 4n],
      ...before.map((n) => [n + 1n, 0n]),
    ]);
    await bed.graph(q).mute({ userId: ids[33]! });
    const fromQ = () => [...events.values()].filter((e) => e.from === q);
    await until(async () => fromQ(), (list) => list.some((e) => e.type === "mute_created"));
    expect(fromQ().filter((e) => e.type === "follow_created").map((e) => e.to).sort()).toEqual([...targets].sort());
  });
});
