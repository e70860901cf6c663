/**
 * Killing one of two replicas under load: reads through the edge lose nothing (a
 * request that never reached the dead replica is sent to the other), and the edge
 * ejects the dead replica within 2 s.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTwoIdentityReplicas, waitEjected, type TwoReplicas } from "../tests/replicas.ts";

let env: TwoReplicas;
let userId = "";

beforeAll(async () => {
  env = await startTwoIdentityReplicas();
  const res = await fetch(`${env.edge}/v1/accounts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ handle: "reed_77", email: "reed_77@reed.example", password: "correct horse battery" }),
  });
  userId = ((await res.json()) as any).account.userId;
});
afterAll(() => env?.stop());

test("kill -9 of one replica under load: no failed reads, ejected within 2 s", async () => {
  let ok = 0;
  let failed = 0;
  let running = true;
  const workers = Array.from({ length: 16 }, async () => {
    while (running) {
      const res = await fetch(`${env.edge}/v1/users/${userId}`).catch(() => undefined);
      if (res?.status === 200) ok++;
      else failed++;
      await res?.arrayBuffer();
    }
  });
  await Bun.sleep(1_000);
  const before = ok;
  const killedAt = performance.now();
  env.mesh.supervisor.kill9("identity-2");
  const ejectMs = await waitEjected(env.edge, env.replicas[1], killedAt);
  await Bun.sleep(1_000);
  running = false;
  await Promise.all(workers);
  console.log(`failover: ${ok} ok (${ok - before} after the kill), ${failed} failed, ejected after ${ejectMs.toFixed(0)} ms`);
  expect(failed).toBe(0);
  expect(ok - before).toBeGreaterThan(100);
  expect(ejectMs).toBeLessThan(2_000);
});
