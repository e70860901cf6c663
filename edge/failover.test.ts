/**
 * Killing one of two replicas under load: reads through the edge lose nothing (a
 * request that never reached the dead replica is sent to the other); writes without a
 * request_id are never sent twice, so the only ones that fail are those in flight on
 * the dead replica; the edge ejects it within 2 s, and takes it back once it is up again.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { testAdminHandle } from "#kit/testing/mesh.ts";
import { until } from "#kit/testing/until.ts";
import { createEdgeAdmin, setEdgeLimits } from "./limits-admin.ts";
import { startTwoIdentityReplicas, waitEjected, type TwoReplicas } from "../testbeds/replicas.ts";

let env: TwoReplicas;
let userId = "";
let token = "";

beforeAll(async () => {
  env = await startTwoIdentityReplicas();
  const post = (path: string, body: unknown) =>
    fetch(`${env.edge}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const res = await post("/v1/accounts", { handle: "reed_77", email: "reed_77@reed.example", password: "correct horse battery" });
  userId = ((await res.json()) as any).account.userId;
  token = ((await (await post("/v1/sessions", { login: "reed_77", password: "correct horse battery" })).json()) as any).accessToken;
  // The writers below send far more than one person's write limit (300/min).
  await setEdgeLimits(env.edge, await createEdgeAdmin(env.edge, testAdminHandle), {
    write: { perUser: { limit: 1_000_000, periodSeconds: 60 } },
  });
});
afterAll(() => env?.stop());

/** Calls of `method` a replica has answered with OK since it started (its admin port's /metrics). */
async function handledOk(replicaMetrics: string, method: string): Promise<number> {
  const metrics = await (await fetch(`${replicaMetrics}/metrics`)).text();
  return metrics
    .split("\n")
    .filter((l) => l.startsWith("grpc_server_handled_total{") && l.includes(`grpc_method="${method}"`) && l.includes('grpc_code="OK"'))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

test("kill -9 of one replica under load: no failed reads, ejected within 2 s", async () => {
  let ok = 0;
  const failed: string[] = [];
  let running = true;
  const workers = Array.from({ length: 16 }, async () => {
    while (running) {
      const res = await fetch(`${env.edge}/v1/users/${userId}`).catch(() => undefined);
      if (res?.status === 200) ok++;
      else failed.push(`${res?.status ?? "no answer"} ${await res?.text().catch(() => "")}`);
      await res?.arrayBuffer().catch(() => {});
    }
  });
  // Kill only once both replicas are serving the load, so the kill hits requests.
  const servedByVictim = await until(() => handledOk(env.replicaMetrics[1], "GetProfile"), (n) => n >= 50);
  expect(servedByVictim).toBeGreaterThanOrEqual(50);
  const before = ok;
  const killedAt = performance.now();
  env.mesh.supervisor.kill9("identity-2");
  const ejectMs = await waitEjected(env.edgeMetrics, env.replicas[1], killedAt);
  // Keep the load on until the survivor has carried a good share of it alone.
  await until(async () => ok - before, (n) => n > 200, 30_000, 50);
  running = false;
  await Promise.all(workers);
  console.log(`failover: ${ok} ok (${ok - before} after the kill), ${failed.length} failed, ejected after ${ejectMs.toFixed(0)} ms`);
  expect(failed).toEqual([]); // status and body of each failure, if any
  expect(ok - before).toBeGreaterThan(100);
  expect(ejectMs).toBeLessThan(2_000);
});

test("the killed replica, restarted, is re-admitted and serves requests again", async () => {
  const restartedAt = performance.now();
  await env.mesh.supervisor.restart("identity-2");
  const admitMs = await waitEjected(env.edgeMetrics, env.replicas[1], restartedAt, 10_000, false);
  expect(admitMs).toBeLessThan(10_000);
  for (let i = 0; i < 40; i++) expect((await fetch(`${env.edge}/v1/users/${userId}`)).status).toBe(200);
  // The restarted process counts from zero: any GetProfile it handled came after the restart.
  expect(await handledOk(env.replicaMetrics[1], "GetProfile")).toBeGreaterThan(0);
});

test("writes without a request_id under a kill: only those in flight on the dead replica fail", async () => {
  const writers = 4;
  let written = 0;
  const failures: number[] = [];
  let running = true;
  // UpdateProfile has side effects and no request_id: the edge must never resend it.
  const writing = Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; running; i++) {
      const res = await fetch(`${env.edge}/v1/users/${userId}?update_mask=bio`, {
        method: "PATCH",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ bio: `writer ${w} write ${i}` }),
      }).catch(() => undefined);
      if (res?.status === 200) written++;
      else failures.push(res?.status ?? 0);
      await res?.arrayBuffer();
    }
  });
  // The victim must be taking writes when it dies: otherwise "only writes in flight on
  // it fail" would hold trivially. (It was restarted above, so its count starts at 0.)
  const writesOnVictim = await until(() => handledOk(env.replicaMetrics[1], "UpdateProfile"), (n) => n >= 20);
  expect(writesOnVictim).toBeGreaterThanOrEqual(20);
  const before = written;
  const killedAt = performance.now();
  env.mesh.supervisor.kill9("identity-2");
  const ejectMs = await waitEjected(env.edgeMetrics, env.replicas[1], killedAt);
  await until(async () => written - before, (n) => n >= 50, 30_000, 50);
  running = false;
  await Promise.all(writing);
  console.log(`failover (writes): ${written} ok (${written - before} after the kill), ${failures.length} failed, ejected after ${ejectMs.toFixed(0)} ms`);
  expect(ejectMs).toBeLessThan(2_000);
  // Each writer has one write in flight at a time, so at most `writers` were in flight on
  // the killed replica; those may fail (503 unavailable, not resent), nothing else may.
  expect(failures.length).toBeLessThanOrEqual(writers);
  expect(failures.filter((s) => s !== 503)).toEqual([]);
  expect(written - before).toBeGreaterThanOrEqual(50);
});
