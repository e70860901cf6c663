/**
 * Interaction benchmark, in one run on this machine: likes/s (LikePost direct, 64
 * concurrent clients, each like a new (user, post) pair: a visibility check with the
 * post service, a transaction, an outbox event, a Redis update; four runs with the batched
 * write path off, on, off, on, interaction restarted between them: the ratio and CPU per
 * like) and BatchGetCounts for
 * 100 posts, req/s and p99, direct (Connect binary, h2c).
 *
 * Run: bun bench/interaction.ts [seconds for the read run, default 10] [likes, default 5000]
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { BatchGetCountsRequestSchema } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import { readEdges, readFortunes } from "../demo/data.ts";
import { ensureInfra } from "../scripts/infra.ts";
import { inParallel, startSocialTestbed } from "../testbeds/social.ts";
import { perRequest, snapshot } from "./lib/cpu.ts";
import { formatResult, runLoad } from "./lib/h2load.ts";
import { closedLoop } from "./lib/load-clients.ts";
import { machineLine } from "./lib/machine.ts";

const seconds = Number(process.argv[2] ?? 10);
/** Likes in all four runs (default 5,000). */
const likeCount = Number(process.argv[3] ?? 5000);
await ensureInfra();
console.log(machineLine());
const bed = await startSocialTestbed(["identity", "graph", "media", "post", "interaction"]);
try {
  const members = [...new Set(readEdges().flat())].slice(0, 100);
  const users = await bed.users(members, { concurrency: 16 });
  const quotes = readFortunes("en-people.fortune");
  const posts: bigint[] = [];
  await inParallel(users, 4, async (u, i) => {
    posts.push((await bed.post(u).createPost({ mediaIds: [await bed.photo(u, i)], caption: quotes[i % quotes.length]!.slice(0, 300) })).post!.postId);
  });
  const pids = { interaction: bed.mesh.supervisor.pid("interaction"), post: bed.mesh.supervisor.pid("post") };
  // Likes in four runs, interaction restarted between them with its batched write path
  // off (statement by statement) and on (one round trip), interleaved off, on, off, on.
  // Each like is a new (user, post) pair across all runs.
  const n = likeCount;
  const perRun = Math.ceil(n / 4);
  const ab: Record<"off" | "on", Array<{ rate: number; p50: number; cpu: Record<string, number> }>> = { off: [], on: [] };
  for (let part = 0; part < 4; part++) {
    const mode = part % 2 === 0 ? "off" : "on";
    bed.mesh.env.OASIS_INTERACTION_BATCHED_WRITES = mode === "on" ? "1" : "0";
    await bed.mesh.supervisor.stop("interaction");
    await bed.mesh.supervisor.restart("interaction");
    pids.interaction = bed.mesh.supervisor.pid("interaction");
    const c0 = snapshot(pids);
    const likes = await closedLoop(perRun, 64, (j) => {
      const i = part * perRun + j;
      return bed.interaction(users[i % users.length]!).likePost({ postId: posts[Math.floor(i / users.length) % posts.length]! });
    });
    const c1 = snapshot(pids);
    console.log(`likes, run ${part + 1}, batched writes ${mode.toUpperCase()}: ${likes.count} in ${likes.seconds.toFixed(1)} s = ${likes.rate.toFixed(0)} likes/s, p50 ${likes.p50Ms.toFixed(1)} ms, p99 ${likes.p99Ms.toFixed(1)} ms, errors ${likes.errors}`);
    console.log(`  CPU per like: ${perRequest(c0, c1, likes.count)}`);
    ab[mode].push({ rate: likes.rate, p50: likes.p50Ms, cpu: Object.fromEntries(Object.keys(c0).map((k) => [k, ((c1[k]! - c0[k]!) * 1e6) / likes.count])) });
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rate = (m: "off" | "on") => mean(ab[m].map((r) => r.rate));
  console.log(
    `batched writes ON vs OFF (mean of two runs each): ${rate("off").toFixed(0)} -> ${rate("on").toFixed(0)} likes/s (${(rate("on") / rate("off")).toFixed(2)}x), ` +
      `p50 ${mean(ab.off.map((r) => r.p50)).toFixed(1)} -> ${mean(ab.on.map((r) => r.p50)).toFixed(1)} ms; CPU per like: ` +
      Object.keys(pids).map((k) => `${k} ${mean(ab.off.map((r) => r.cpu[k]!)).toFixed(0)} -> ${mean(ab.on.map((r) => r.cpu[k]!)).toFixed(0)} us`).join(", "),
  );
  const c2 = snapshot(pids);
  const reads = await runLoad({
    label: "BatchGetCounts 100 posts direct",
    url: `${bed.mesh.url("interaction")}/oasis.interaction.v1.InteractionService/BatchGetCounts`,
    http: "h2",
    connections: 4,
    streams: 8,
    body: toBinary(BatchGetCountsRequestSchema, create(BatchGetCountsRequestSchema, { postIds: posts })),
    headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
    durationSeconds: seconds,
    warmupSeconds: 2,
  });
  const c3 = snapshot(pids);
  console.log(formatResult(reads));
  console.log(`  CPU per request (incl. warm-up): ${perRequest(c2, c3, reads.requests)}`);
} finally {
  await bed.stop();
}
