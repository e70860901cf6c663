/**
 * Chat delivery benchmark, in one run on this machine: 200 concurrent senders (each in a
 * 1:1 convo with one of 50 receivers, 4 senders per receiver) send real lines (Tang poems
 * and English fortunes) with SendMessage direct to chat (Connect binary, h2c); every
 * receiver holds a live SSE stream through the edge (GET /v1/convos:stream). Delivery
 * latency is from the start of SendMessage to the message's arrival on the receiver's
 * stream: p50/p99, and messages/s over the whole run. Rate limits are raised for the run.
 *
 * Run: bun bench/chat.ts [messages per sender, default 10]
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import { testClient } from "#kit/testing/clients.ts";
import { until } from "#kit/testing/until.ts";
import { readEdges, readFortunes } from "../demo/data.ts";
import { ensureInfra } from "../scripts/infra.ts";
import { inParallel, startSocialTestbed } from "../testbeds/social.ts";
import { perRequest, snapshot } from "./lib/cpu.ts";
import { machineLine } from "./lib/machine.ts";

const perSender = Number(process.argv[2] ?? 10);
const senders = 200;
const receivers = 50;
await ensureInfra();
console.log(machineLine());
const bed = await startSocialTestbed(["identity", "graph", "chat"], {
  env: { OASIS_CHAT_MESSAGES_PER_MINUTE: "1000000", OASIS_CHAT_CONVOS_PER_DAY: "1000000" },
});
const chat = (u: bigint) => testClient(ChatService, bed.mesh.url("chat"), u);
const lines = [...readFortunes("zh-tang300.fortune"), ...readFortunes("en-wisdom.fortune")].filter((l) => l.length <= 400);
try {
  const members = [...new Set(readEdges().flat())].slice(0, senders + receivers);
  const users = await bed.users(members, { concurrency: 16 });
  const [rx, tx] = [users.slice(0, receivers), users.slice(receivers)];
  const convos = new Array<bigint>(senders);
  await inParallel(tx, 16, async (s, i) => {
    convos[i] = (await chat(s).createConvo({ memberIds: [rx[i % receivers]!] })).convo!.convoId;
  });

  // Live streams: one SSE connection per receiver, recording arrival times by request tag.
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const streams: Array<() => Promise<void>> = [];
  let opened = 0;
  await inParallel(members.slice(0, receivers), 8, async (n) => {
    // Straight to identity: the edge's per-IP sign-in limit (30/min) would refuse some.
    const token = (await bed.identity().createSession({ login: `reed_${n}`, password: "correct horse battery" })).accessToken;
    const res = await fetch(`${bed.mesh.url("edge")}/v1/convos:stream`, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } });
    const reader = res.body!.getReader();
    streams.push(() => reader.cancel());
    let text = "";
    let first = true;
    const decoder = new TextDecoder();
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        const now = performance.now();
        text += decoder.decode(value, { stream: true });
        const parts = text.split("\n\n");
        text = parts.pop()!;
        for (const p of parts) {
          if (!p.startsWith("data: ")) continue;
          if (first) {
            first = false;
            opened++;
          }
          const tag = /"text":"\[(\d+-\d+)\]/.exec(p)?.[1];
          const t0 = tag ? sentAt.get(tag) : undefined;
          if (t0 !== undefined) latencies.push(now - t0);
        }
      }
    })();
  });
  if ((await until(async () => opened, (n) => n === receivers, 30_000)) !== receivers) throw new Error(`only ${opened} of ${receivers} streams opened`);

  const pids = { chat: bed.mesh.supervisor.pid("chat"), edge: bed.mesh.supervisor.pid("edge"), graph: bed.mesh.supervisor.pid("graph") };
  const total = senders * perSender;
  let errors = 0;
  const errorCodes = new Map<string, number>();
  const c0 = snapshot(pids);
  const started = performance.now();
  await Promise.all(
    tx.map(async (s, i) => {
      const client = chat(s);
      for (let k = 0; k < perSender; k++) {
        const tag = `${i}-${k}`;
        sentAt.set(tag, performance.now());
        try {
          await client.sendMessage({ convoId: convos[i]!, text: `[${tag}] ${lines[(i * perSender + k) % lines.length]}`, requestId: `bench-${tag}` });
        } catch (err) {
          errors++;
          const code = Code[ConnectError.from(err).code] ?? "unknown";
          errorCodes.set(code, (errorCodes.get(code) ?? 0) + 1);
        }
      }
    }),
  );
  const sendSeconds = (performance.now() - started) / 1000;
  await until(async () => latencies.length, (n) => n >= total - errors, 60_000);
  const deliverSeconds = (performance.now() - started) / 1000;
  const c1 = snapshot(pids);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  console.log(`chat delivery, 2 cores shared by load generator and mesh: ${senders} concurrent senders -> ${receivers} receivers on live SSE streams through the edge`);
  console.log(`  sent ${total} messages in ${sendSeconds.toFixed(1)} s = ${(total / sendSeconds).toFixed(0)} messages/s (errors ${errors}${errors ? `: ${[...errorCodes].map(([c, n]) => `${c} ${n}`).join(", ")}` : ""})`);
  console.log(`  delivered ${latencies.length} in ${deliverSeconds.toFixed(1)} s; send -> arrival p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms`);
  console.log(`  CPU per message: ${perRequest(c0, c1, total)}`);
  for (const close of streams) await close();
} finally {
  await bed.stop();
}
