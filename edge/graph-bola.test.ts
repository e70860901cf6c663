/**
 * BOLA (broken object-level authorization, OWASP API1): through the edge, user A's token
 * cannot change user B's graph. Every mutating GraphService method is taken from the
 * descriptor (so a new one cannot be forgotten) and called with A's token while trying
 * to act as B: B as the target's owner, B named in extra fields, B's identity in forged
 * caller headers. B's relationships, requests and counts must not change, and a user id
 * in the body never makes the call act for anyone but A.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { Access, methodAccess } from "#kit/auth.ts";
import { readEdges } from "../demo/data.ts";
import { startGraphTestbed, type GraphTestbed } from "../services/graph/testing.ts";

let bed: GraphTestbed;
let a: bigint, b: bigint, c: bigint;
let tokenA = "";
let tokenB = "";
const members = [...new Set(readEdges().flat())].slice(40, 43);

async function edgeCall(method: string, body: unknown, token: string, extraHeaders: Record<string, string> = {}) {
  const res = await fetch(`${bed.mesh.url("edge")}/oasis.graph.v1.GraphService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...extraHeaders },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

async function login(n: number): Promise<string> {
  const res = await fetch(`${bed.mesh.url("edge")}/oasis.identity.v1.IdentityService/CreateSession`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ login: `reed_${n}`, password: "correct horse battery" }),
  });
  return ((await res.json()) as { accessToken: string }).accessToken;
}

/** Everything about B that A must not be able to change. */
async function stateOfB() {
  const g = bed.graph(b);
  const rel = await g.batchGetRelationships({ userIds: [a, c] });
  const requests = await g.listFollowRequests({});
  const counts = await bed.graph().getCounts({ userId: b });
  return JSON.stringify({
    rel: rel.relationships.map((r) => [r.following, r.followedBy, r.requested, r.blocking, r.blockedBy, r.muting]),
    requests: requests.requests.map((r) => String(r.userId)),
    counts: [String(counts.counts?.followers), String(counts.counts?.following)],
  });
}

beforeAll(async () => {
  bed = await startGraphTestbed({ edge: true });
  [a, b, c] = (await bed.accounts(members)) as [bigint, bigint, bigint];
  tokenA = await login(members[0]!);
  tokenB = await login(members[1]!);
  // B has some state: follows C, and C asked nothing yet.
  await bed.graph(b).follow({ userId: c! });
});
afterAll(() => bed?.stop());

test("every mutating GraphService method acts only for the token's user", async () => {
  const mutating = GraphService.methods.filter(
    (m) => m.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS && methodAccess(m) !== Access.INTERNAL,
  );
  expect(mutating.map((m) => m.name).sort()).toEqual(
    ["ApproveFollowRequest", "Block", "Follow", "Mute", "RejectFollowRequest", "Unblock", "Unfollow", "Unmute"].sort(),
  );
  const before = await stateOfB();
  const forgedHeaders = { "oasis-caller": `v1.${b}.9999999999999.AAAA`, "x-user-id": String(b) };
  for (const m of mutating) {
    // 1) Target C, with B's id smuggled in as an extra field: rejected as unknown input.
    const smuggled = await edgeCall(m.name, { userId: String(c), followerId: String(b), actorId: String(b) }, tokenA);
    expect(smuggled.status).toBe(400);
    // 2) Target C with forged caller headers: acts as A (or is refused), never as B.
    const forged = await edgeCall(m.name, { userId: String(c) }, tokenA, forgedHeaders);
    expect(forged.status).toBeLessThan(500);
    // 3) Target B itself: A acts on A's relation to B; B's own outgoing state is untouched.
    const onB = await edgeCall(m.name, { userId: String(b) }, tokenA);
    expect(onB.status).toBeLessThan(500);
    const after = JSON.parse(await stateOfB());
    const was = JSON.parse(before);
    // B still follows C, has not blocked or muted anyone, and B->C is unchanged.
    expect(after.rel[1]).toEqual(was.rel[1]);
    expect(after.rel[0][0]).toBe(false); // B never starts following A
    expect(after.rel[0][3]).toBe(false); // B never blocks A
    expect(after.rel[0][5]).toBe(false); // B never mutes A
  }
  // Internal methods are not reachable through the edge at all.
  const internal = await edgeCall("ListFollowerIds", { userId: String(b) }, tokenA);
  expect(internal.status).toBe(404);
  // And B's own token still works on B's state.
  expect((await edgeCall("Unfollow", { userId: String(c) }, tokenB)).status).toBe(200);
});
