/**
 * BOLA (broken object-level authorization, OWASP API1): through the edge, user A's token
 * cannot change user B's graph. Every mutating GraphService method is taken from the
 * descriptor (so a new one cannot be forgotten) and called with A's token while trying
 * to act as B, over Connect JSON and over its REST route: B named in extra fields, body
 * fields or query parameters, and B's identity in forged caller headers, each aimed at a
 * target where acting as B would visibly change B's state (a user B does not follow yet,
 * one B follows, a pending request to private B, a block and a mute B holds). B's
 * relationships, pending requests and counts must stay exactly as they were.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { FollowState } from "#gen/oasis/graph/v1/graph_pb.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { Access, methodAccess } from "#kit/auth.ts";
import { readEdges } from "../demo/data.ts";
import { startGraphTestbed, type GraphTestbed } from "../testbeds/graph.ts";
import { RouteTable } from "./transcode/route-table.ts";

let bed: GraphTestbed;
/** a: the attacker; b: the victim (private); c, d, e: third parties. */
let a: bigint, b: bigint, c: bigint, d: bigint, e: bigint;
let tokenA = "";
let tokenB = "";
const members = [...new Set(readEdges().flat())].slice(40, 45);
const routes = new RouteTable([GraphService]);

async function edgeCall(method: string, body: unknown, token: string, extraHeaders: Record<string, string> = {}) {
  const res = await fetch(`${bed.mesh.url("edge")}/oasis.graph.v1.GraphService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...extraHeaders },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

/** Calls `m` through its REST route with `userId` in the path (query appended as given). */
async function restCall(m: DescMethod, userId: bigint, body: unknown, token: string, opts: { query?: string; headers?: Record<string, string> } = {}) {
  const route = routes.routes.find((r) => r.method === m);
  if (!route) throw new Error(`${m.name} has no REST route`);
  const path = route.template.source.replace("{user_id}", String(userId));
  const res = await fetch(`${bed.mesh.url("edge")}${path}${opts.query ?? ""}`, {
    method: route.httpMethod,
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...opts.headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

/** The Connect body that names `target`: `user_id`, or for a batch `user_ids` holding it alone. */
function bodyFor(m: DescMethod, target: bigint): Record<string, unknown> {
  return m.name === "BatchCreateFollows" ? { userIds: [String(target)] } : { userId: String(target) };
}

/** The REST body that names `target` where the path does not (a batch's route has no user_id). */
function restBodyFor(m: DescMethod, target: bigint): Record<string, unknown> {
  return m.name === "BatchCreateFollows" ? bodyFor(m, target) : {};
}

async function login(n: number): Promise<string> {
  const res = await fetch(`${bed.mesh.url("edge")}/oasis.identity.v1.IdentityService/CreateSession`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ login: `reed_${n}`, password: "correct horse battery" }),
  });
  return ((await res.json()) as { accessToken: string }).accessToken;
}

interface StateOfB {
  /** B's relationship towards a, c, d, e (in that order). */
  rel: Array<{ following: boolean; followedBy: boolean; requested: boolean; requestedBy: boolean; blocking: boolean; blockedBy: boolean; muting: boolean }>;
  /** Who asks to follow B, sorted. */
  requests: string[];
  /** B's [followers, following]. */
  counts: [string, string];
}

/** Everything about B that A must not be able to change, read as B and as the public. */
async function stateOfB(): Promise<StateOfB> {
  const g = bed.graph(b);
  const rel = await g.batchGetRelationships({ userIds: [a, c, d, e] });
  const requests = await g.listFollowRequests({ pageSize: 1000 });
  const counts = await bed.graph().getCounts({ userId: b });
  return {
    rel: rel.relationships.map(({ following, followedBy, requested, requestedBy, blocking, blockedBy, muting }) => ({
      following,
      followedBy,
      requested,
      requestedBy,
      blocking,
      blockedBy,
      muting,
    })),
    requests: requests.requests.map((r) => String(r.userId)).sort(),
    counts: [String(counts.counts?.followers), String(counts.counts?.following)],
  };
}

/**
 * Per method, the user whose relation to B would visibly change if the call acted as B:
 * Follow a user B does not follow, Unfollow one B follows, Approve/Reject C's pending
 * request, Block/Mute a user B leaves alone, Unblock/Unmute the user B blocks and mutes.
 */
function revealingTarget(method: string): bigint {
  const targets: Record<string, bigint> = {
    Follow: d,
    Unfollow: c,
    BatchCreateFollows: d,
    ApproveFollowRequest: c,
    RejectFollowRequest: c,
    Block: d,
    Unblock: e,
    Mute: d,
    Unmute: e,
  };
  const t = targets[method];
  if (t === undefined) throw new Error(`no revealing target for ${method}: add one`);
  return t;
}

beforeAll(async () => {
  bed = await startGraphTestbed({ edge: true });
  [a, b, c, d, e] = (await bed.accounts(members, { private: (n) => n === members[1] })) as [bigint, bigint, bigint, bigint, bigint];
  tokenA = await login(members[0]!);
  tokenB = await login(members[1]!);
  // B's state: follows C, blocks and mutes E, leaves D alone; C and A ask to follow
  // private B (A's own request is what a forged approve would approve).
  expect((await bed.graph(b).follow({ userId: c })).state).toBe(FollowState.FOLLOWING);
  await bed.graph(b).block({ userId: e });
  await bed.graph(b).mute({ userId: e });
  expect((await bed.graph(c).follow({ userId: b })).state).toBe(FollowState.REQUESTED);
  expect((await bed.graph(a).follow({ userId: b })).state).toBe(FollowState.REQUESTED);
});
afterAll(() => bed?.stop());

test("every mutating GraphService method acts only for the token's user", async () => {
  const mutating = GraphService.methods.filter(
    (m) => m.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS && methodAccess(m) !== Access.INTERNAL,
  );
  expect(mutating.map((m) => m.name).sort()).toEqual(
    ["ApproveFollowRequest", "BatchCreateFollows", "Block", "Follow", "Mute", "RejectFollowRequest", "Unblock", "Unfollow", "Unmute"].sort(),
  );
  const before = await stateOfB();
  // The setup is what the targets rely on: a check that B's state is visible at all.
  expect(before.rel.map((r) => [r.following, r.followedBy, r.blocking, r.muting])).toEqual([
    [false, false, false, false],
    [true, false, false, false],
    [false, false, false, false],
    [false, false, true, true],
  ]);
  expect(before.requests).toEqual([String(a), String(c)].sort());
  expect(before.counts).toEqual(["0", "1"]);

  const forgedHeaders = { "oasis-caller": `v1.${b}.9999999999999.AAAA`, "x-user-id": String(b) };
  for (const m of mutating) {
    for (const target of [revealingTarget(m.name), a]) {
      // 1) B's id smuggled in as extra fields: rejected as unknown input, over Connect and REST.
      const smuggled = { ...bodyFor(m, target), followerId: String(b), actorId: String(b) };
      expect((await edgeCall(m.name, smuggled, tokenA)).status).toBe(400);
      expect((await restCall(m, target, { ...restBodyFor(m, target), followerId: String(b) }, tokenA)).status).toBe(400);
      expect((await restCall(m, target, restBodyFor(m, target), tokenA, { query: `?follower_id=${b}` })).status).toBe(400);
      // 2) Forged caller headers: acts as A (or is refused), never as B.
      expect((await edgeCall(m.name, bodyFor(m, target), tokenA, forgedHeaders)).status).toBeLessThan(500);
      expect((await restCall(m, target, restBodyFor(m, target), tokenA, { headers: forgedHeaders })).status).toBeLessThan(500);
      // 3) A body naming B next to the path's target: the path wins, and it is still A acting.
      expect((await restCall(m, target, { ...restBodyFor(m, target), userId: String(b) }, tokenA)).status).toBeLessThan(500);
      expect({ method: m.name, target: String(target), state: await stateOfB() }).toEqual({ method: m.name, target: String(target), state: before });
    }
  }

  // 4) A acting on B itself changes only A's own side (A's request to B may go, A may
  // block B); B's relations to others, B's other requests and B's counts stay, and B
  // never follows, blocks or mutes A, nor gains A as a follower without approving.
  for (const m of mutating) {
    expect((await edgeCall(m.name, bodyFor(m, b), tokenA)).status).toBeLessThan(500);
    const after = await stateOfB();
    expect({ method: m.name, rel: after.rel.slice(1), counts: after.counts }).toEqual({ method: m.name, rel: before.rel.slice(1), counts: before.counts });
    expect({ method: m.name, requests: after.requests.filter((r) => r !== String(a)) }).toEqual({ method: m.name, requests: [String(c)] });
    const toA = after.rel[0]!;
    expect({ method: m.name, following: toA.following, followedBy: toA.followedBy, blocking: toA.blocking, muting: toA.muting }).toEqual({
      method: m.name,
      following: false,
      followedBy: false,
      blocking: false,
      muting: false,
    });
  }

  // Internal methods are not reachable through the edge at all.
  const internal = await edgeCall("ListFollowerIds", { userId: String(b) }, tokenA);
  expect(internal.status).toBe(404);
  // A's own follow import over its REST route works (the refusals above were not a route
  // that never answers), and changes nothing of B's.
  const batch = GraphService.methods.find((m) => m.name === "BatchCreateFollows")!;
  const imported = await restCall(batch, c, { userIds: [String(c)] }, tokenA);
  expect([imported.status, imported.json.results?.[0]?.state, imported.json.results?.[0]?.relationship?.following]).toEqual([200, "FOLLOW_STATE_FOLLOWING", true]);
  expect((await stateOfB()).counts).toEqual(before.counts);
  // And B's own token does change B's state, over REST and Connect: the refusals above
  // were about the actor, not a route that never works.
  const approve = GraphService.methods.find((m) => m.name === "ApproveFollowRequest")!;
  expect((await restCall(approve, c, {}, tokenB)).status).toBe(200);
  expect((await edgeCall("Unfollow", { userId: String(c) }, tokenB)).status).toBe(200);
  const final = await stateOfB();
  expect(final.counts).toEqual(["1", "0"]);
  expect([final.rel[1]!.following, final.rel[1]!.followedBy]).toEqual([false, true]);
  expect(final.requests.includes(String(c))).toBe(false);
});
