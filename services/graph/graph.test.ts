/**
 * GraphService rules against real identity and graph processes: follows (idempotent,
 * counts), private accounts and requests, blocks, mutes, lists and their visibility.
 * Users are Reed98 members.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { FollowState } from "#gen/oasis/graph/v1/graph_pb.ts";
import { errorReason, violatedFields } from "#kit/errors.ts";
import { readEdges } from "../../demo/data.ts";
import { startGraphTestbed, type GraphTestbed } from "./testing.ts";

let bed: GraphTestbed;
let ids: bigint[];
// Twelve real members; member index 5 gets a private account.
const members = [...new Set(readEdges().flat())].slice(20, 32);

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected failure");
}

beforeAll(async () => {
  bed = await startGraphTestbed();
  ids = await bed.accounts(members, { private: (n) => n === members[5] });
});
afterAll(() => bed?.stop());

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
