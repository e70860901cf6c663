/**
 * Chat's per-sender limits as the app sees them through the edge's REST routes, on a
 * real mesh (identity, graph, chat, edge) with the 30 messages a minute and a
 * daily convo limit of 2: every send answers RateLimit-Limit/-Remaining/-Reset
 * (draft-ietf-httpapi-ratelimit-headers) counting down, the 31st send within the minute
 * is 429 RATE_LIMITED with the headers and Retry-After, and the edge's own limit shows
 * where chat reports none (chat's is tighter, so it wins on sends).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { testClient } from "#kit/testing/clients.ts";
import { startTestMesh, type TestMesh } from "#kit/testing/mesh.ts";
import { until } from "#kit/testing/until.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { readEdges, readFortunes } from "../../demo/data.ts";
import { createReedAccounts } from "../../testbeds/reed-accounts.ts";

setDefaultTimeout(60_000);

let mesh: TestMesh;
const members = [...new Set(readEdges().flat())].slice(200, 204);
const ids: bigint[] = [];
const lines = readFortunes("en-wisdom.fortune").filter((l) => l.length <= 400).slice(0, 31);
const identity = (as?: bigint) => testClient(IdentityService, mesh.url("identity"), as);

async function token(i: number): Promise<string> {
  return (await identity().createSession({ login: `reed_${members[i]}`, password: "correct horse battery" })).accessToken;
}

async function edge(method: string, path: string, tok: string, body?: unknown) {
  const res = await fetch(`${mesh.url("edge")}${path}`, {
    method,
    headers: { authorization: `Bearer ${tok}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const h = (name: string) => res.headers.get(name);
  return {
    status: res.status,
    json: (await res.json()) as any,
    limit: { limit: h("ratelimit-limit"), remaining: h("ratelimit-remaining"), reset: h("ratelimit-reset"), retryAfter: h("retry-after") },
  };
}

beforeAll(async () => {
  mesh = await startTestMesh({
    services: ["identity", "graph", "chat"],
    edge: true,
    env: { OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "1024", OASIS_CHAT_MESSAGES_PER_MINUTE: "30", OASIS_CHAT_CONVOS_PER_DAY: "2" },
  });
  ids.push(...(await createReedAccounts((as) => identity(as), members)));
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
}, 60_000);

test("new convos: RateLimit headers count down the daily limit; the third is 429 with them and Retry-After", async () => {
  const tok = await token(0);
  const made = [];
  for (const other of ids.slice(1, 4)) made.push(await edge("POST", "/v1/convos", tok, { memberIds: [String(other)] }));
  expect(made.map((r) => r.status)).toEqual([200, 200, 429]);
  expect(made.map((r) => [r.limit.limit, r.limit.remaining])).toEqual([
    ["2", "1"],
    ["2", "0"],
    ["2", "0"],
  ]);
  for (const r of made) expect(Number(r.limit.reset)).toBeWithin(1, 86_401);
  expect(made[0]!.limit.retryAfter).toBeNull();
  expect(made[2]!.json.details.find((d: any) => d.type === "google.rpc.ErrorInfo").debug.reason).toBe("RATE_LIMITED");
  // Retry-After (from chat's RetryInfo) and Reset both point at the end of the UTC day.
  expect(Math.abs(Number(made[2]!.limit.retryAfter) - Number(made[2]!.limit.reset))).toBeLessThanOrEqual(1);
  // The pair's existing convo is returned, not made: no charge, so chat reports nothing
  // and the edge's own write limit (300 a minute, edge/rate-limit.ts) shows instead.
  const again = await edge("POST", "/v1/convos", tok, { memberIds: [String(ids[1])] });
  expect(again.status).toBe(200);
  expect(again.limit.limit).toBe("300");
});

test("messages: Remaining counts down 29..0 over 30 sends; the 31st within the minute is 429 with RateLimit headers and Retry-After", async () => {
  const tok = await token(1);
  const convoId = (await edge("POST", "/v1/convos", tok, { memberIds: [String(ids[2])] })).json.convo.convoId as string;
  // Chat counts in fixed minute windows: start early in one so all 31 sends fall in it.
  await until(async () => Date.now() % 60_000, (ms) => ms < 30_000, 45_000, 200);
  const sent = [];
  for (const [i, text] of lines.entries()) sent.push(await edge("POST", `/v1/convos/${convoId}/messages`, tok, { text, requestId: `rl-${i}` }));
  expect(sent.map((r) => r.status)).toEqual([...Array<number>(30).fill(200), 429]);
  expect(sent.map((r) => r.limit.limit)).toEqual(Array<string>(31).fill("30"));
  expect(sent.map((r) => Number(r.limit.remaining))).toEqual([...Array.from({ length: 30 }, (_, i) => 29 - i), 0]);
  for (const r of sent) expect(Number(r.limit.reset)).toBeWithin(1, 61);
  expect(sent.slice(0, 30).every((r) => r.limit.retryAfter === null)).toBe(true);
  const refused = sent[30]!;
  expect(refused.json.code).toBe("resource_exhausted");
  expect(Number(refused.limit.retryAfter)).toBeWithin(1, 61);
  expect(Math.abs(Number(refused.limit.retryAfter) - Number(refused.limit.reset))).toBeLessThanOrEqual(1);
  // A read reports the edge's read limit (1200 a minute): chat reports none there.
  const read = await edge("GET", `/v1/convos/${convoId}/messages`, tok);
  expect(read.status).toBe(200);
  expect(read.limit.limit).toBe("1200");
}, 120_000);
