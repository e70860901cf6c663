/**
 * Failover under load, in one run on this machine: GetProfile reads (REST) and
 * UpdateProfile writes (Connect JSON, no request id) through the edge in front of two
 * identity replicas; one replica is killed with SIGKILL after 3 s. Prints error counts
 * before and after the kill for reads and writes, and how long the edge took to eject
 * the dead replica. Reads are retried on the other replica; writes are retried only when
 * they never reached the dead one, so the writes that fail are those it was handling.
 *
 * Run: bun bench/failover.ts [seconds, default 8]
 */
import { ensureInfra } from "../scripts/infra.ts";
import { startTwoIdentityReplicas, waitEjected } from "../testbeds/replicas.ts";
import { raiseEdgeLimits } from "../edge/limits-admin.ts";
import { testAdminHandle } from "../kit/testing/mesh.ts";
import { machineLine } from "./lib/machine.ts";

const seconds = Number(process.argv[2] ?? 8);
await ensureInfra();
console.log(machineLine());
const env = await startTwoIdentityReplicas();
try {
  await raiseEdgeLimits(env.edge, testAdminHandle);
  const post = (path: string, body: unknown, token?: string) =>
    fetch(`${env.edge}${path}`, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  const acct = (await (await post("/v1/accounts", { handle: "reed_88", email: "reed_88@bench.example", password: "correct horse battery" })).json()) as any;
  const userId = acct.account.userId;
  const token = ((await (await post("/v1/sessions", { login: "reed_88", password: "correct horse battery" })).json()) as any).accessToken;
  const stats = { reads: { ok: 0, failed: 0, failedAfterKill: 0 }, writes: { ok: 0, failed: 0, failedAfterKill: 0 } };
  let killed = false;
  const end = performance.now() + seconds * 1000;
  const worker = (kind: "reads" | "writes") => async () => {
    let i = 0;
    while (performance.now() < end) {
      const res =
        kind === "reads"
          ? await fetch(`${env.edge}/v1/users/${userId}`).catch(() => undefined)
          : await post("/oasis.identity.v1.IdentityService/UpdateProfile", { profile: { userId, bio: `bio ${i++}` }, updateMask: "bio" }, token).catch(() => undefined);
      await res?.arrayBuffer();
      const s = stats[kind];
      if (res?.status === 200) s.ok++;
      else {
        s.failed++;
        if (killed) s.failedAfterKill++;
      }
    }
  };
  const workers = [...Array.from({ length: 24 }, worker("reads")), ...Array.from({ length: 8 }, worker("writes"))];
  await Bun.sleep(3_000);
  const killedAt = performance.now();
  env.mesh.supervisor.kill9("identity-2");
  killed = true;
  const ejectMs = await waitEjected(env.edgeMetrics, env.replicas[1], killedAt);
  await Promise.all(workers);
  console.log(`reads  (GET /v1/users/{id}):            ${stats.reads.ok} ok, ${stats.reads.failed} failed (${stats.reads.failedAfterKill} after the kill)`);
  console.log(`writes (UpdateProfile, no request_id):  ${stats.writes.ok} ok, ${stats.writes.failed} failed (${stats.writes.failedAfterKill} after the kill: calls the dead replica had started)`);
  console.log(`dead replica ejected by the edge after ${ejectMs.toFixed(0)} ms (goal < 2000 ms)`);
} finally {
  await env.stop();
}
