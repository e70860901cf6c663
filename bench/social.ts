/**
 * The DeathStarBench socialNetwork mix on the real Reed98 graph, through the edge, and the
 * same mix against the stack's floor (../shared/bench/floor-server.ts: Bun.serve + jose +
 * one Redis pipeline per read), started beside the mesh in the same run and driven by the
 * same load generator with the same requests: 60% `GET /v1/feeds/home?pageSize=10`, 30%
 * `GET /v1/users/{id}/feed?pageSize=10`, 10% `POST /v1/posts` (a real caption and 1-4 of
 * the author's photos). Prints, for both: req/s, p50/p99 per operation, errors, CPU per
 * request of each process; for Oasis also mesh RPCs per request and the fan-out lag
 * p50/p99 (post created -> visible in the home feed of the author's last follower in
 * fan-out order), measured by following sampled composes one at a time: the bench reads
 * that follower's home feed every 5 ms, the page just below the post's id (so a post that
 * newer ones pushed below the top 20 is still seen), until the post is there (lag = start
 * of that read - creation), with the post's rank in the timeline then; a post not seen in
 * 10 s is looked up in the feed's Redis and printed. The feed's own histogram (commit ->
 * last push) is printed next to it.
 * Then the ratio Oasis / floor, and an open-loop search (requests at a fixed arrival rate,
 * latency counted from the scheduled start, so a slow server cannot slow the clock) for the
 * highest rate with p99 < 100 ms.
 *
 * `OASIS_BENCH_AB=1` also runs the mix with the feed's read model off (the feed restarted
 * with OASIS_FEED_READ_MODEL=0, hydrating from post, identity and interaction on every
 * read) and on, interleaved (off, on, off, on) in the same run, and prints the ratios of
 * req/s and of CPU per request of the Bun processes and Redis (MariaDB and NATS may be
 * shared with other work on the box, so they are printed but not summed).
 *
 * `OASIS_BENCH_PAGE_AB=1` first runs home reads only with the edge's page path off (every
 * read goes to the feed) and on (the edge serves pages from the feed's Redis,
 * edge/page-path.ts), interleaved (off, on, off, on; the edge restarted with
 * OASIS_EDGE_PAGE_PATH each time), next to one floor home run, and prints per mode req/s,
 * p50/p99, the ratio to the floor, CPU per request by process and the page path's hits
 * and misses, then the ratios on / off. `OASIS_BENCH_PAGE_AB=mix` runs the DSB mix in each
 * round too (user timelines and composes; the floor's mix once for its ratio), `=mixonly`
 * the DSB mix alone (each edge variant's process then sees only the mix: with
 * OASIS_BUN_FLAGS="--cpu-prof ...", its profile is the mix's).
 *
 * DeathStarBench (Gan et al., ASPLOS 2019) reports about 2,300 req/s for this mix on a
 * 28-core server; issue 16's goal is >= 0.25 of the floor in the same run.
 *
 * `OASIS_BENCH_COMPOSE=1` adds a compose phase after the mix (`only`: the compose phase
 * alone, no mix, floor or open loop): composes only, through the edge, each with a fresh
 * request_id as the app sends, with composes/s, CPU per compose and the fan-out lag
 * (created -> in the last follower's home timeline). `OASIS_BENCH_COMPOSE_AB=<switch>[,<switch>...]`
 * runs that phase with the switch off and on, interleaved, and prints the ratios (each
 * switch in turn, left at its "on" value for the next):
 * `batched` (OASIS_POST_BATCHED_WRITES 0 -> 1: CreatePost in two round trips), `relay`
 * (OASIS_OUTBOX_CHAINED 0 -> 1: the outbox relay publishes a batch in one round trip) or
 * `fanout` (OASIS_FEED_FANOUT_CONCURRENCY 4 -> 32: post_created events fanned out at once)
 * `followers` (OASIS_FEED_FOLLOWER_CACHE 0 -> 1: the fan-out reads followers from the
 * feed's Redis instead of graph) or `outbox` (OASIS_OUTBOX_BATCHED 0 -> 1: post's relay
 * pass in two MariaDB round trips instead of five), `gzip` (OASIS_MESH_GZIP 1 -> 0: post's mesh
 * calls no longer accept gzip, so media's BatchGetMedia answer is sent as it is),
 * `create` (OASIS_FEED_ONE_TRIP_CREATE 0 -> 1: the feed's read model takes post_created in
 * one Redis round trip, the post's bytes copied from the event), `onetrip`
 * (OASIS_POST_ONE_TRIP_CREATE 0 -> 1: CreatePost in one MariaDB round trip when the author
 * has no suspension),
 * `fanouttrip` (OASIS_FEED_ONE_TRIP_FANOUT 0 -> 1: the fan-out's seed, author timeline,
 * celebrity check and first follower batch in one Redis script instead of three round
 * trips in a row), `rmseed` (OASIS_FEED_RM_CREATE_SEED 1 -> 0: the read model's
 * post_created consumer no longer seeds what the fan-out seeds), `relaydelay`
 * (OASIS_OUTBOX_KICK_DELAY_MS 0 -> 3: post's relay waits 3 ms after a kick, so more rows
 * leave per pass) or
 * `fastunary` (OASIS_MESH_FAST_UNARY 0 -> 1: every service answers binary Connect unary calls
 * without connect-node's adapter, kit/fast-unary.ts; all six restarted), `eventloop`
 * (OASIS_METRICS_EVENT_LOOP_MS 10 -> 100: every process's event loop delay sampled every
 * 100 ms, not prom-client's 10; all six and the edge restarted) or
 * `mediacache` (OASIS_POST_MEDIA_CACHE 0 -> 1: a create reads its media and post-images'
 * policy from media's cache in Redis, shared-rules/media-cache.ts, instead of the
 * BatchGetMedia hop), `noid` (OASIS_POST_ONE_TRIP_WITHOUT_ID 0 -> 1: a create without a
 * request id, as the DSB mix sends them, in one MariaDB round trip, not two),
 * `postmerged` (OASIS_FEED_POST_MERGED 0 -> 1: the feed reads post's events with one
 * consumer, not two, services/feed/post-events.ts), `bytesonce` (OASIS_POST_BYTES_ONCE 0 ->
 * 1: the one-round-trip create sends the post's bytes once, not three times).
 * (Interaction's switches of post_created, `interaction`, `postmeta`, `postbatch`,
 * `postmetause`, `referred` and the sets `stop27` and `stop28` that held them, went with
 * their variables: interaction reads no post_created, design note 67.)
 * `OASIS_BENCH_COMPOSE_AB_MIX=<switch>[,...]`: for those switches each round
 * also runs the DSB mix (after the composes, same variant), then the floor's mix once, and
 * prints mix req/s off -> on and each one's ratio to that floor. `OASIS_BENCH_COMPOSE_AB_SWAP=1`
 * runs "on" first in each round (the order swapped for a second run).
 *
 * Run: bun bench/social.ts [seconds, default 30] [concurrency, default 64]
 * Env: OASIS_BENCH_MEMBERS=N (first N members only: a quick run), OASIS_BENCH_OPEN=0 (skip
 * the open-loop search), OASIS_BENCH_OPEN_SECONDS (per rate step, default 8),
 * OASIS_BENCH_DROP_COUNTS=1 (page A/B: the read model's post counters dropped before each
 * measured run, as countsTtl leaves them), OASIS_BENCH_USER_ONLY=1 (also user timelines alone, Oasis and floor: a user timeline's
 * cost per read beside a home read's),
 * OASIS_BENCH_HOME_ONLY=0 (no home-only runs after the mix: a profile of the mix alone),
 * OASIS_BENCH_AB=1, OASIS_BENCH_PAGE_AB=1, OASIS_BENCH_COMPOSE, OASIS_BENCH_COMPOSE_AB (see above).
 * OASIS_BENCH_PROFILE="<bun flags>" (e.g. "--cpu-prof-md --cpu-prof-dir=/tmp/prof"): the
 * mesh's Bun processes restarted after the setup with those flags, so their CPU profiles
 * (written when the run stops them) hold the measured phases, not the setup.
 * OASIS_REDIS_URL: the Redis of the mesh and the floor; its CPU is read from the server
 * listening on that port, and each run prints its commands per request (INFO
 * commandstats), so a private Redis (e.g. redis://127.0.0.1:6390) keeps other work on the
 * box out of both.
 */
import { execSync } from "node:child_process";
import { Code, ConnectError } from "@connectrpc/connect";
import { readEdges, fortuneFiles, readFortunes } from "../demo/data.ts";
import { ensureInfra } from "../scripts/infra.ts";
import { inParallel, startSocialTestbed } from "../testbeds/social.ts";
import { perRequest, snapshot } from "./lib/cpu.ts";
import { raiseEdgeLimits } from "../edge/limits-admin.ts";
import { testAdminHandle } from "../kit/testing/mesh.ts";
import { idTimeMs } from "../kit/ids.ts";
import { encodePageToken } from "../kit/page-token.ts";
import { counterSeries } from "./lib/histogram.ts";
import { machineLine } from "./lib/machine.ts";
import { startFloor, type FloorServer } from "./lib/floor.ts";
import { closedMix, openMix, pct, type MixTarget, type MixResult, type Op } from "./lib/mix.ts";
import { again } from "./lib/load-clients.ts";

/**
 * OASIS_BENCH_COMPOSE_AB's switches: the variable, its values before and after, and the
 * services restarted with it; `more`: further variables switched with it (before, after).
 */
const composeSwitches: Record<string, { variable: string; values: [string, string]; services: string[]; more?: Record<string, [string, string]> }> = {
  batched: { variable: "OASIS_POST_BATCHED_WRITES", values: ["0", "1"], services: ["post"] },
  relay: { variable: "OASIS_OUTBOX_CHAINED", values: ["0", "1"], services: ["post"] },
  fanout: { variable: "OASIS_FEED_FANOUT_CONCURRENCY", values: ["4", "32"], services: ["feed"] },
  followers: { variable: "OASIS_FEED_FOLLOWER_CACHE", values: ["0", "1"], services: ["feed"] },
  outbox: { variable: "OASIS_OUTBOX_BATCHED", values: ["0", "1"], services: ["post"] },
  gzip: { variable: "OASIS_MESH_GZIP", values: ["1", "0"], services: ["post"] },
  create: { variable: "OASIS_FEED_ONE_TRIP_CREATE", values: ["0", "1"], services: ["feed"] },
  onetrip: { variable: "OASIS_POST_ONE_TRIP_CREATE", values: ["0", "1"], services: ["post"] },
  fanouttrip: { variable: "OASIS_FEED_ONE_TRIP_FANOUT", values: ["0", "1"], services: ["feed"] },
  rmseed: { variable: "OASIS_FEED_RM_CREATE_SEED", values: ["1", "0"], services: ["feed"] },
  relaydelay: { variable: "OASIS_OUTBOX_KICK_DELAY_MS", values: ["0", "3"], services: ["post"] },
  fastunary: { variable: "OASIS_MESH_FAST_UNARY", values: ["0", "1"], services: ["identity", "graph", "media", "post", "feed", "interaction"] },
  eventloop: { variable: "OASIS_METRICS_EVENT_LOOP_MS", values: ["10", "100"], services: ["identity", "graph", "media", "post", "feed", "interaction", "edge"] },
  mediacache: { variable: "OASIS_POST_MEDIA_CACHE", values: ["0", "1"], services: ["post"] },
  noid: { variable: "OASIS_POST_ONE_TRIP_WITHOUT_ID", values: ["0", "1"], services: ["post"] },
  postmerged: { variable: "OASIS_FEED_POST_MERGED", values: ["0", "1"], services: ["feed"] },
  bytesonce: { variable: "OASIS_POST_BYTES_ONCE", values: ["0", "1"], services: ["post"] },
};
/**
 * The edge variants OASIS_BENCH_PAGE_AB compares: without `spec`, the page path off and
 * on; else `spec`'s, `;`-separated, each a `,`-separated list of VAR=value set on the
 * edge (with the page path on; a variable another variant names is left at its default), e.g. "OASIS_EDGE_PAGE_REUSE_ENTRIES=0;OASIS_EDGE_PAGE_REUSE_ENTRIES=20000".
 */
function edgeVariants(spec: string | undefined): Array<{ label: string; env: Record<string, string> }> {
  if (!spec) return [{ label: "page path OFF", env: { OASIS_EDGE_PAGE_PATH: "0" } }, { label: "page path ON", env: { OASIS_EDGE_PAGE_PATH: "1" } }];
  return spec.split(";").map((v) => v.trim()).filter(Boolean).map((v) => ({
    label: `[${v}]`,
    env: { OASIS_EDGE_PAGE_PATH: "1", ...Object.fromEntries(v.split(",").map((kv) => { const [k, val] = kv.split("="); if (!k || val === undefined) throw new Error(`OASIS_BENCH_EDGE_AB: "${kv}" is not VAR=value`); return [k.trim(), val.trim()]; })) },
  }));
}

/** The 1, 5 and 15 minute load averages (the box is shared; print them with numbers). */
const loadAverage = () => execSync("cat /proc/loadavg").toString().split(" ").slice(0, 3).join(" ");

/**
 * The Redis the mesh and the floor use (OASIS_REDIS_URL): its server's pid, found by its
 * port (a private Redis on another port, e.g. OASIS_REDIS_URL=redis://127.0.0.1:6390, keeps
 * other work on the box out of its CPU and command counts), and its per-command counts
 * (INFO commandstats: calls and microseconds, commands a script runs counted under their
 * own names as well as inside the script's).
 */
const redisUrl = new URL(process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379");
const redisPort = redisUrl.port || "6379";
// Found after ensureInfra (below), which may have just started that Redis.
const findRedisPid = () =>
  Number(execSync(`ss -ltnpH 'sport = :${redisPort}' 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2`).toString().trim()) ||
  Number(execSync(`pgrep -o -f 'redis-server.*:${redisPort}' || true`).toString().trim()) ||
  undefined;
/** INFO <section> of the bench's Redis, as redis-cli prints it. */
const redisInfo = (section: string): string => execSync(`redis-cli -h ${redisUrl.hostname} -p ${redisPort} INFO ${section}`).toString();
const commandStats = (): Map<string, { calls: number; usec: number }> => {
  const text = redisInfo("commandstats");
  return new Map([...text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)].map((m) => [m[1]!, { calls: Number(m[2]), usec: Number(m[3]) }]));
};
/** One field of INFO <section> on the bench's Redis, as text ("?" when absent). */
const redisInfoField = (section: string, field: string): string =>
  new RegExp(`^${field}:(.*)$`, "m").exec(redisInfo(section))?.[1]?.trim() ?? "?";
/** One CONFIG GET value on the bench's Redis ("?" when absent). */
const redisConfigField = (name: string): string =>
  execSync(`redis-cli -h ${redisUrl.hostname} -p ${redisPort} CONFIG GET ${name}`).toString().split("\n")[1]?.trim() || "?";
/** Per request: each command's calls and microseconds between two commandStats, busiest first. */
const commandsPerRequest = (a: ReturnType<typeof commandStats>, b: ReturnType<typeof commandStats>, requests: number) =>
  [...b]
    .map(([k, v]) => [k, (v.calls - (a.get(k)?.calls ?? 0)) / requests, (v.usec - (a.get(k)?.usec ?? 0)) / requests] as const)
    .filter(([, calls]) => calls > 0.005)
    .sort((x, y) => y[2] - x[2])
    .map(([k, calls, us]) => `${k} ${calls.toFixed(2)}x ${us.toFixed(1)} us`)
    .join(", ");

const seconds = Number(process.argv[2] ?? 30);
const concurrency = Number(process.argv[3] ?? 64);
const services = ["identity", "graph", "media", "post", "feed", ...(process.env.OASIS_BENCH_NO_INTERACTION ? [] : ["interaction"])];
await ensureInfra();
const redisPid = findRedisPid();
console.log(machineLine());
// Redis's client-side-caching table outlives the clients and namespaces that filled it (keys
// read while absent are never invalidated): at ~1M entries every tracked read and write costs
// more (stop 32: the page script 52 -> 332 us per home read). Printed so a run on a full table shows.
console.log(`Redis tracking table at start: ${redisInfoField("stats", "tracking_total_keys")} keys (tracking-table-max-keys ${redisConfigField("tracking-table-max-keys")})`);
const bed = await startSocialTestbed(services.filter((s) => s !== "interaction" || Bun.file(`services/interaction/main.ts`).size > 0));
let floor: FloorServer | undefined;
let closeProbe: (() => void) | undefined;
// Ctrl-C or a kill stops the mesh and the floor too (their processes and namespace).
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => void Promise.allSettled([floor?.stop(), bed.stop()]).then(() => process.exit(130)));
}
try {
  const t0 = performance.now();
  // Before any edge call: 962 sign-ins from one IP would hit the per-IP auth limit.
  await raiseEdgeLimits(bed.mesh.url("edge"), testAdminHandle);
  let edges = readEdges();
  // OASIS_BENCH_MEMBERS=N keeps the first N members (and the follows among them): a quick
  // run for profiling, not the benchmark.
  const limit = Number(process.env.OASIS_BENCH_MEMBERS ?? Infinity);
  const members = [...new Set(edges.flat())].sort((a, b) => a - b).slice(0, limit);
  const kept = new Set(members);
  edges = edges.filter(([u, v]) => kept.has(u) && kept.has(v));
  const ids = await again(() => bed.users(members, { concurrency: 16 }));
  const idOf = new Map(members.map((n, i) => [n, ids[i]!]));
  const follows = edges.flatMap(([u, v]) => [[u, v], [v, u]] as Array<[number, number]>);
  await inParallel(follows, 48, async ([a, b]) => {
    await again(() => bed.graph(idOf.get(a)!).follow({ userId: idOf.get(b)! }));
  });
  const tokens = new Map<number, string>();
  await inParallel(members, 16, async (n) => {
    // A sign-in the loaded box refuses for now (429, 5xx: a timeout) is tried again.
    const token = await again(async () => {
      const r = await bed.edgeCall("/oasis.identity.v1.IdentityService/CreateSession", { login: `reed_${n}`, password: "correct horse battery" });
      if (r.status === 200 && r.json.accessToken) return r.json.accessToken as string;
      throw new ConnectError(`sign-in of reed_${n}: HTTP ${r.status} ${JSON.stringify(r.json)}`, r.status === 429 || r.status >= 500 ? Code.Unavailable : Code.Unknown);
    });
    tokens.set(n, token);
  });
  // 100 composers with 4 photos each; everyone has posted once so timelines are not empty.
  const composers = members.slice(0, 100);
  const photos = new Map<number, string[]>();
  await inParallel(composers, 4, async (n) => {
    photos.set(n, (await Promise.all([0, 1, 2, 3].map((i) => again(() => bed.photo(idOf.get(n)!, n + i))))).map(String));
  });
  const captions = fortuneFiles().flatMap((f) => readFortunes(f)).filter((t) => [...t].length < 2000);
  await inParallel(members, 8, async (n) => {
    const user = idOf.get(n)!;
    const media = photos.get(n) ?? [String(await again(() => bed.photo(user, n)))];
    await again(() => bed.post(user).createPost({ mediaIds: [BigInt(media[0]!)], caption: captions[n % captions.length]!, requestId: `bench-post-${n}` }));
  });
  await inParallel(members, 16, async (n) => {
    await again(() => bed.feed(idOf.get(n)!).getHomeFeed({ pageSize: 10 }));
  });
  // Fan-out walks followers in ListFollowerIds order; the last one is reached last.
  const lastFollower = new Map<number, bigint>();
  await inParallel(composers, 8, async (n) => {
    let pageToken = "";
    let last: bigint | undefined;
    do {
      const page = await again(() => bed.graph("service").listFollowerIds({ userId: idOf.get(n)!, pageSize: 10_000, pageToken }));
      last = page.userIds.at(-1) ?? last;
      pageToken = page.nextPageToken;
    } while (pageToken);
    if (last !== undefined) lastFollower.set(n, last);
  });
  console.log(`setup: ${members.length} users, ${follows.length} follows, ${composers.length * 4 + members.length - composers.length} photos, ${members.length} posts in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  const edge = bed.mesh.url("edge");
  const oasis: MixTarget = {
    name: "oasis",
    base: edge,
    users: members.map((n) => ({ token: tokens.get(n)!, pathId: String(idOf.get(n)!), media: photos.get(n) })),
  };
  // A real Oasis page (10 items, REST JSON) gives the floor's pre-rendered items their size.
  const sample = await fetch(`${edge}/v1/feeds/home?pageSize=10`, { headers: { authorization: `Bearer ${tokens.get(composers[0]!)!}` } });
  floor = await startFloor(await sample.text());
  const floorTarget = floor.target;

  // Fan-out lag, one sampled compose at a time (more would add their own load): from the
  // post's creation (the millisecond in its id) to the start of the first read of the
  // author's last follower's home feed (straight from the feed service) that shows it.
  // The start, not the end: under load a read's own latency would dwarf the lag, while
  // the timeline is read a Redis round trip after the start.
  // Each look reads the page just below the post (pageSize 1, the keyset cursor at the
  // post's id + 1, as the feed's own page token would carry it): its item is the post as
  // soon as the home timeline holds it and the read path shows it, however many newer
  // posts landed first. The top 20 (stop 29's probe) could not tell a lost post from one
  // pushed below the 20 newest before a read came back: at ~300 composes/s a follower of
  // 20-26 of the 100 composers gets ~70 posts/s. The post's rank in the timeline (ZREVRANK,
  // just after the read that showed it) says how often that happens; a post not shown in
  // 10 s is looked up in Redis (home timeline, built marker, the author's timeline, the
  // reader's last read), so a lost push is told from a late one.
  const lags: number[] = [];
  const seenRanks: number[] = []; // rank (0: newest) of each sampled post when first shown
  let lagTimeouts = 0;
  let probeReads = 0; // direct feed reads, inside the RPC and CPU counts above
  let probe: Promise<void> | undefined;
  let probing = false;
  const { Redis } = await import("ioredis");
  const probeRedis = new Redis(redisUrl.toString(), { keyPrefix: `${bed.mesh.namespace}:oasis:feed:` });
  closeProbe = () => probeRedis.disconnect();
  const follow = (postId: bigint, author: bigint, reader: bigint) => {
    probe = (async () => {
      const created = idTimeMs(postId);
      const pageToken = encodePageToken(`ht:${reader}`, [postId + 1n]);
      for (const stop = Date.now() + 10_000; Date.now() < stop; await Bun.sleep(5)) {
        const readAt = Date.now();
        // A read the loaded box times out or cancels is only a missed look: read again.
        const page = await bed.feed(reader).getHomeFeed({ pageSize: 1, pageToken }).catch(() => undefined);
        probeReads++;
        if (page?.items[0]?.post!.postId === postId) {
          lags.push(Math.max(0, readAt - created));
          const rank = await probeRedis.zrevrank(`ht:${reader}`, String(postId));
          if (rank !== null) seenRanks.push(rank);
          return;
        }
      }
      lagTimeouts++;
      const [rank, size, built, inAuthor, lastRead] = await Promise.all([
        probeRedis.zrevrank(`ht:${reader}`, String(postId)),
        probeRedis.zcard(`ht:${reader}`),
        probeRedis.exists(`hb:${reader}`),
        probeRedis.zscore(`ut:${author}`, String(postId)),
        probeRedis.zscore("active", String(reader)),
      ]);
      console.log(
        `  not seen in 10 s: post ${postId} (author ${author}) in reader ${reader}'s home timeline: ${rank === null ? "absent" : `rank ${rank}`} of ${size}, built ${built === 1}; ` +
          `in the author's timeline ${inAuthor !== null}; reader's last read ${lastRead === null ? "never" : `${created - Number(lastRead)} ms before the post`}`,
      );
    })().finally(() => (probe = undefined));
  };
  oasis.onCompose = (userIndex, text) => {
    const reader = lastFollower.get(members[userIndex]!);
    if (probing && reader !== undefined && !probe) follow(BigInt(JSON.parse(text).post.postId), idOf.get(members[userIndex]!)!, reader);
  };

  const pidsOf = (): Record<string, number | undefined> => {
    const p: Record<string, number | undefined> = Object.fromEntries([...services, "edge"].map((s) => [s, bed.mesh.supervisor.pid(s)]));
    p.mariadb = Number(execSync("pgrep -o mariadbd").toString().trim()) || undefined;
    p.redis = redisPid;
    p.nats = Number(execSync("pgrep -o nats-server").toString().trim()) || undefined;
    return p;
  };
  const floorPids = () => ({ floor: floor!.pid, redis: redisPid });
  // Server-side RPC counts before and after: how many mesh calls one app request costs.
  const rpcCounts = () => Promise.all(services.map((s) => counterSeries(bed.mesh.metricsUrl(s), "grpc_server_handled_total")));
  const lagBuckets = () => counterSeries(bed.mesh.metricsUrl("feed"), "feed_fanout_lag_seconds_bucket");
  /** Waits (up to 30 s) until a service's metrics answer. */
  const metricsUp = async (svc: string) => {
    for (const stop = Date.now() + 30_000; Date.now() < stop; await Bun.sleep(100)) {
      if (await fetch(`${bed.mesh.metricsUrl(svc)}/metrics`).then((r) => r.ok, () => false)) return;
    }
    throw new Error(`${svc}'s metrics did not answer in 30 s`);
  };
  /** The edge's page path reads by timeline, result and reason (edge_page_path_timeline_total); empty if the edge restarted. */
  const timelineCounts = () => counterSeries(bed.mesh.metricsUrl("edge"), "edge_page_path_timeline_total").catch(() => new Map<string, number>());
  /** Per timeline: reads the page path tried in the window, hits, filled, misses by reason, as shares. */
  const timelineLine = (before: Map<string, number>, after: Map<string, number>) =>
    (["home", "user"] as const).map((tl) => {
      const got = new Map<string, number>();
      for (const [labels, v] of after) {
        if (!labels.includes(`timeline="${tl}"`)) continue;
        const result = /result="([^"]*)"/.exec(labels)![1]!;
        const reason = /reason="([^"]*)"/.exec(labels)?.[1] ?? "";
        const k = result === "miss" ? `miss ${reason}` : result;
        got.set(k, (got.get(k) ?? 0) + v - (before.get(labels) ?? 0));
      }
      const n = [...got.values()].reduce((a, b) => a + b, 0);
      const misses = [...got].filter(([k]) => k.startsWith("miss")).reduce((a, [, v]) => a + v, 0);
      const parts = [...got].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v} (${((100 * v) / Math.max(1, n)).toFixed(1)}%)`);
      return `${tl} ${n} reads, misses ${((100 * misses) / Math.max(1, n)).toFixed(1)}%: ${parts.join(", ") || "none"}`;
    }).join("; ");
  const stageBuckets = () => counterSeries(bed.mesh.metricsUrl("feed"), "feed_fanout_stage_seconds_bucket");
  /**
   * Bucket bounds (ms) at quantiles `qs` of the observations a histogram's series (`le`
   * label; only those whose labels contain `only`) gained between `before` and `after`,
   * and how many they were.
   */
  const windowQuantiles = (before: Map<string, number>, after: Map<string, number>, qs: number[], only = "") => {
    const window = [...after]
      .filter(([labels]) => labels.includes(only))
      .map(([labels, c]) => [/le="\+Inf"/.test(labels) ? Infinity : Number(/le="([^"]+)"/.exec(labels)![1]), c - (before.get(labels) ?? 0)] as const)
      .sort((a, b) => a[0] - b[0]);
    const n = window.at(-1)?.[1] ?? 0;
    return { n, ms: qs.map((q) => (window.find(([, c]) => c >= q * n)?.[0] ?? Number.NaN) * 1000) };
  };

  const print = (label: string, r: MixResult) => {
    console.log(`${label}: ${r.total} requests in ${r.seconds.toFixed(1)} s = ${r.rps.toFixed(0)} req/s (${concurrency} clients in this process)`);
    for (const op of ["home", "user", "compose"] as const) {
      console.log(`  ${op.padEnd(8)} ${String(r.lat[op].length).padStart(7)} req  p50 ${pct(r.lat[op], 50).toFixed(1).padStart(6)} ms  p99 ${pct(r.lat[op], 99).toFixed(1).padStart(7)} ms  errors ${r.errors[op]}`);
    }
    for (const [k, v] of [...r.failures].sort((a, b) => b[1] - a[1]).slice(0, 5)) console.log(`  failed ${v}x: ${k}`);
    console.log(`  all      p50 ${pct(r.all, 50).toFixed(1)} ms  p99 ${pct(r.all, 99).toFixed(1)} ms`);
  };

  /** One closed-loop Oasis run with CPU, RPC and fan-out lag accounting. */
  const runOasis = (label: string, mix?: Partial<Record<Op, number>>) => runOasisOn(oasis, label, mix);
  /** runOasis against `target` (the edge, with its own request options). */
  const runOasisOn = async (target: MixTarget, label: string, mix?: Partial<Record<Op, number>>) => {
    lags.length = 0;
    seenRanks.length = 0;
    lagTimeouts = 0;
    probeReads = 0;
    const pids = pidsOf();
    const h0 = await lagBuckets();
    const s0 = await stageBuckets();
    const r0 = await rpcCounts();
    const t0 = await timelineCounts();
    const c0 = snapshot(pids);
    const k0 = commandStats();
    probing = true;
    const r = await closedMix(target, seconds, concurrency, mix);
    probing = false;
    const c1 = snapshot(pids);
    const k1 = commandStats();
    const r1 = await rpcCounts();
    const t1 = await timelineCounts();
    await probe;
    const h1 = await lagBuckets();
    const s1 = await stageBuckets();
    print(label, r);
    console.log(`  CPU per request: ${perRequest(c0, c1, r.total)}`);
    console.log(`  Redis commands per request (INFO commandstats; a script's commands also inside its own): ${commandsPerRequest(k0, k1, r.total)}`);
    // The Bun processes and Redis are this run's alone; MariaDB and NATS are shared with
    // whatever else runs on the box, so they are left out of the sum.
    const own = [...services, "edge", "redis"];
    const meshUs = own.reduce((a, k) => a + (c1[k]! - c0[k]!), 0) * 1e6 / Math.max(1, r.total);
    const edgeUs = ((c1.edge! - c0.edge!) * 1e6) / Math.max(1, r.total);
    console.log(`  CPU per request, Bun processes + Redis: ${meshUs.toFixed(0)} us`);
    const calls: Array<[string, number]> = [];
    r1.forEach((after, i) => {
      for (const [labels, v] of after) {
        const d = v - (r0[i]!.get(labels) ?? 0);
        const method = /grpc_method="([^"]+)"/.exec(labels)?.[1];
        if (d > 0 && method) calls.push([`${services[i]}.${method}`, d]);
      }
    });
    const perReq = (d: number) => (d / r.total).toFixed(2);
    console.log(`  page path: ${timelineLine(t0, t1)}`);
    console.log(`  mesh RPCs per request: ${perReq(calls.reduce((a, [, d]) => a + d, 0))} (${calls.sort((a, b) => b[1] - a[1]).map(([m, d]) => `${m} ${perReq(d)}`).join(", ")})`);
    if (r.lat.compose.length) {
      console.log(
        `  fan-out lag (created -> in the last follower's home feed): p50 ${pct(lags, 50)} ms  p99 ${pct(lags, 99)} ms  (${lags.length} sampled composes, read every 5 ms: ${probeReads} feed reads, in the counts above; ${lagTimeouts} not seen in 10 s); ` +
          `rank when first shown p50 ${pct(seenRanks, 50)}, max ${Math.max(0, ...seenRanks)}, ${seenRanks.filter((r) => r >= 20).length} below the 20 newest (a top-20 read misses those)`,
      );
      // The feed's histograms over the measured window only (setup posts subtracted).
      const whole = windowQuantiles(h0, h1, [0.5, 0.99]);
      console.log(`  feed's fan-out histogram in the window: ${whole.n} fan-outs, p50 <= ${whole.ms[0]!.toFixed(0)} ms, p99 <= ${whole.ms[1]!.toFixed(0)} ms (bucket bounds, commit -> last push)`);
      const stages = ["relay", "queue", "push"].map((stage) => {
        const q = windowQuantiles(s0, s1, [0.5, 0.99], `stage="${stage}"`);
        return `${stage} p50 <= ${q.ms[0]!.toFixed(0)} / p99 <= ${q.ms[1]!.toFixed(0)} ms`;
      });
      console.log(`  by stage (relay: commit -> in JetStream; queue: -> handler start; push: the handler): ${stages.join(", ")}`);
    }
    return { ...r, meshUs, edgeUs, lags: [...lags] };
  };
  const runFloor = async (label: string, mix?: Partial<Record<Op, number>>) => {
    const pids = floorPids();
    const c0 = snapshot(pids);
    const k0 = commandStats();
    const r = await closedMix(floorTarget, seconds, concurrency, mix);
    const c1 = snapshot(pids);
    const k1 = commandStats();
    print(label, r);
    console.log(`  CPU per request: ${perRequest(c0, c1, r.total)}`);
    console.log(`  Redis commands per request: ${commandsPerRequest(k0, k1, r.total)}`);
    return r;
  };
  /** Restarts the feed with its read model on or off (same data, same run). */
  const readModel = async (on: boolean) => {
    bed.mesh.env.OASIS_FEED_READ_MODEL = on ? "1" : "0";
    await bed.mesh.supervisor.stop("feed");
    await bed.mesh.supervisor.restart("feed");
  };

  /** Restarts the edge with `env` set, and `unset` (the other variants' variables) at their defaults (same data, same run). */
  const edgeWith = async (env: Record<string, string>, unset: readonly string[] = []) => {
    for (const k of unset) delete bed.mesh.env[k];
    Object.assign(bed.mesh.env, env);
    await bed.mesh.supervisor.stop("edge");
    await bed.mesh.supervisor.restart("edge");
    await metricsUp("edge");
  };
  /**
   * OASIS_BENCH_DROP_COUNTS=1: every cached post counter of the feed's read model dropped
   * (`rm:counts:<id>`, their versions kept), as they are after countsTtl (300 s) without
   * a read model write: each variant of an A/B then meets the same expired counters, which
   * a 15 s run would otherwise not (the first variant's misses refill them for 5 minutes).
   */
  const dropCounts = async () => {
    const { Redis } = await import("ioredis");
    const r = new Redis(redisUrl.toString());
    try {
      const pattern = `${bed.mesh.namespace}:oasis:feed:rm:counts:*`;
      let [cursor, n] = ["0", 0];
      do {
        const [next, found] = await r.scan(cursor, "MATCH", pattern, "COUNT", 5000);
        const values = found.filter((k) => !k.includes(":counts:v:"));
        if (values.length) n += await r.del(...values);
        cursor = next;
      } while (cursor !== "0");
      return n;
    } finally {
      r.disconnect();
    }
  };
  const pagePathCounts = async () => {
    const names = ["edge_page_path_total", "edge_page_path_misses_total", "edge_page_path_reused_total", "edge_page_items_total", "edge_page_held_total", "edge_page_tracking_total"];
    const [results, misses, reused, items, held, tracking] = await Promise.all(names.map((n) => counterSeries(bed.mesh.metricsUrl("edge"), n)));
    const fmt = (m: Map<string, number>) => [...m].map(([l, v]) => `${l.replace(/,?service="edge",?/, "")} ${v}`).join(" ") || "none";
    return `${fmt(results!)}; misses ${fmt(misses!)}; reused ${fmt(reused!)}; items ${fmt(items!)}; held ${fmt(held!)}; tracking ${fmt(tracking!)}`;
  };

  // Warm both (JIT, connections, caches) before measuring.
  await closedMix(oasis, 3, concurrency);
  await closedMix(floorTarget, 3, concurrency);
  if (process.env.OASIS_BENCH_PAGE_AB) {
    // "mix" also runs the DSB mix in each round (user timelines of random users, composes).
    // "mixonly": the DSB mix alone (no home-only runs: an edge CPU profile of the mix).
    const pageAB = process.env.OASIS_BENCH_PAGE_AB;
    const shapes: ReadonlyArray<"home" | "mix"> = pageAB === "mixonly" ? ["mix"] : pageAB === "mix" ? ["home", "mix"] : ["home"];
    const mixOf = { home: { home: 1 }, mix: undefined } as const;
    // The edge's variants: page path off and on, or OASIS_BENCH_EDGE_AB's (page path on).
    const variants = edgeVariants(process.env.OASIS_BENCH_EDGE_AB);
    type Run = MixResult & { meshUs: number; edgeUs: number };
    const runs = new Map<string, Run[]>();
    for (let round = 1; round <= 2; round++) {
      for (const v of variants) {
        await edgeWith(v.env, [...new Set(variants.flatMap((x) => Object.keys(x.env)))]);
        for (const shape of shapes) {
          await closedMix(oasis, 3, concurrency, mixOf[shape]);
          if (process.env.OASIS_BENCH_DROP_COUNTS === "1") console.log(`  dropped ${await dropCounts()} rm:counts keys (as after countsTtl, 300 s)`);
          const label = shape === "home" ? "home feed only" : "DSB mix";
          const r = await runOasis(`Page A/B round ${round}: Oasis ${label}, edge ${v.label} (load ${loadAverage()})`, mixOf[shape]);
          runs.set(`${shape} ${v.label}`, [...(runs.get(`${shape} ${v.label}`) ?? []), r]);
          // Counters restart with the edge: these are this variant's so far in this round.
          console.log(`  page path: ${await pagePathCounts()}`);
        }
      }
    }
    const floors = {
      home: shapes.includes("home") ? await runFloor(`Floor home feed only (for the page A/B ratio; load ${loadAverage()})`, mixOf.home) : undefined,
      mix: shapes.includes("mix") ? await runFloor(`Floor DSB mix (for the page A/B ratio; load ${loadAverage()})`) : undefined,
    };
    const sum = (rs: Run[]) => {
      const n = rs.reduce((a, r) => a + r.total, 0);
      const secs = rs.reduce((a, r) => a + r.seconds, 0);
      const of = (op: Op) => rs.flatMap((r) => r.lat[op]);
      return { rps: n / secs, us: rs.reduce((a, r) => a + r.meshUs * r.total, 0) / n, edgeUs: rs.reduce((a, r) => a + r.edgeUs * r.total, 0) / n, all: rs.flatMap((r) => r.all), of };
    };
    for (const shape of shapes) {
      const fl = floors[shape]!;
      const sums = variants.map((v) => [v.label, sum(runs.get(`${shape} ${v.label}`)!)] as const);
      for (const [label, m] of sums) {
        const ops = (shape === "home" ? ["home"] : ["home", "user", "compose"]) as Op[];
        const per = ops.map((op) => `${op} p50 ${pct(m.of(op), 50).toFixed(1)} / p99 ${pct(m.of(op), 99).toFixed(1)} ms`).join(", ");
        console.log(`PAGE ${label} ${shape}: ${m.rps.toFixed(0)} req/s, ${per}, ratio to floor ${(m.rps / fl.rps).toFixed(3)} (${fl.rps.toFixed(0)} req/s), CPU per request (Bun + Redis) ${m.us.toFixed(0)} us, edge ${m.edgeUs.toFixed(0)} us`);
      }
      const [, a] = sums[0]!;
      for (const [label, b] of sums.slice(1)) {
        console.log(`RATIO ${label} / ${sums[0]![0]} (${shape}, two interleaved rounds each): req/s ${(b.rps / a.rps).toFixed(2)}, p50 ${(pct(b.all, 50) / pct(a.all, 50)).toFixed(2)}, CPU per request ${(b.us / a.us).toFixed(2)}, edge CPU per request ${(b.edgeUs / a.edgeUs).toFixed(2)}`);
      }
    }
    console.log(`load: ${execSync("uptime").toString().trim()}`);
  }
  /**
   * The compose phase: composes alone through the edge (each with a fresh request_id, as
   * the app sends), composes/s, p50/p99, CPU per compose by process, mesh RPCs per compose
   * and the fan-out lag of sampled composes, as runOasis measures them. With
   * OASIS_BENCH_COMPOSE_AB=<switch> the phase runs with the switch off, on, off, on (the
   * service restarted each time, same data, same run) and prints the ratios.
   */
  const composePhase = async () => {
    const composer = { ...oasis, requestIds: true };
    const runCompose = (label: string) => runOasisOn(composer, label, { compose: 1 });
    const which = process.env.OASIS_BENCH_COMPOSE_AB;
    if (!which) {
      await closedMix(composer, 3, concurrency, { compose: 1 });
      await runCompose(`Compose only via edge (${concurrency} clients, request ids)`);
      return;
    }
    for (const name of which.split(",")) await composeAB(name);
  };
  /** One switch of OASIS_BENCH_COMPOSE_AB: off, on, off, on, then the ratios. */
  const composeAB = async (which: string) => {
    const composer = { ...oasis, requestIds: true };
    const runCompose = (label: string) => runOasisOn(composer, label, { compose: 1 });
    const sw = composeSwitches[which];
    if (!sw) throw new Error(`OASIS_BENCH_COMPOSE_AB must be one of ${Object.keys(composeSwitches).join(", ")}, got ${JSON.stringify(which)}`);
    const runs = new Map<string, Array<Awaited<ReturnType<typeof runCompose>>>>(sw.values.map((v) => [v, []]));
    const withMix = (process.env.OASIS_BENCH_COMPOSE_AB_MIX ?? "").split(",").includes(which);
    const mixRuns = new Map<string, Array<Awaited<ReturnType<typeof runCompose>>>>(sw.values.map((v) => [v, []]));
    for (let round = 1; round <= 2; round++) {
      // OASIS_BENCH_COMPOSE_AB_SWAP=1: "on" first in each round (the variant run second tends to lose as the box drifts).
      for (const [i, value] of process.env.OASIS_BENCH_COMPOSE_AB_SWAP === "1" ? [...sw.values.entries()].reverse() : sw.values.entries()) {
        bed.mesh.env[sw.variable] = value;
        for (const [k, vs] of Object.entries(sw.more ?? {})) bed.mesh.env[k] = vs[i]!;
        for (const svc of sw.services) await bed.mesh.supervisor.stop(svc);
        for (const svc of sw.services) await bed.mesh.supervisor.restart(svc);
        // Ready is the service port's; the admin port (metrics) may come up a moment later.
        for (const svc of sw.services) await metricsUp(svc);
        await closedMix(composer, 3, concurrency, { compose: 1 });
        runs.get(value)!.push(await runCompose(`A/B round ${round}: compose only, ${sw.variable}=${value} (load ${loadAverage()})`));
        if (withMix) {
          await closedMix(oasis, 3, concurrency);
          mixRuns.get(value)!.push(await runOasisOn(oasis, `A/B round ${round}: DSB mix, ${sw.variable}=${value} (load ${loadAverage()})`));
        }
      }
    }
    if (withMix) {
      await closedMix(floorTarget, 3, concurrency);
      const fl = await runFloor(`Floor DSB mix (load ${loadAverage()})`);
      const mixSum = (rs: Array<Awaited<ReturnType<typeof runCompose>>>) => {
        const n = rs.reduce((a, r) => a + r.total, 0);
        return { rps: n / rs.reduce((a, r) => a + r.seconds, 0), us: rs.reduce((a, r) => a + r.meshUs * r.total, 0) / n };
      };
      const [moff, mon] = sw.values.map((v) => mixSum(mixRuns.get(v)!)) as [ReturnType<typeof mixSum>, ReturnType<typeof mixSum>];
      console.log(
        `RATIO DSB mix ${sw.variable}=${sw.values[1]} / ${sw.values[0]} (two interleaved rounds each): req/s ${(mon.rps / moff.rps).toFixed(2)}x (${moff.rps.toFixed(0)} -> ${mon.rps.toFixed(0)}), ` +
          `CPU per request (Bun + Redis) ${moff.us.toFixed(0)} -> ${mon.us.toFixed(0)} us; to the floor's ${fl.rps.toFixed(0)} req/s: ${(moff.rps / fl.rps).toFixed(3)} -> ${(mon.rps / fl.rps).toFixed(3)}`,
      );
    }
    const sum = (rs: Array<Awaited<ReturnType<typeof runCompose>>>) => {
      const n = rs.reduce((a, r) => a + r.total, 0);
      return { rps: n / rs.reduce((a, r) => a + r.seconds, 0), us: rs.reduce((a, r) => a + r.meshUs * r.total, 0) / n, p99: pct(rs.flatMap((r) => r.all), 99), lags: rs.flatMap((r) => r.lags) };
    };
    const [off, on] = sw.values.map((v) => sum(runs.get(v)!)) as [ReturnType<typeof sum>, ReturnType<typeof sum>];
    console.log(
      `RATIO compose ${sw.variable}=${sw.values[1]} / ${sw.values[0]} (two interleaved rounds each): composes/s ${(on.rps / off.rps).toFixed(2)}x (${off.rps.toFixed(1)} -> ${on.rps.toFixed(1)}), ` +
        `CPU per compose (Bun + Redis) ${(off.us / 1000).toFixed(1)} -> ${(on.us / 1000).toFixed(1)} ms, p99 ${off.p99.toFixed(0)} -> ${on.p99.toFixed(0)} ms, ` +
        `fan-out lag p50 ${pct(off.lags, 50)} -> ${pct(on.lags, 50)} ms, p99 ${pct(off.lags, 99)} -> ${pct(on.lags, 99)} ms`,
    );
  };

  const composeMode = process.env.OASIS_BENCH_COMPOSE;
  // OASIS_BENCH_PROFILE="--cpu-prof-md --cpu-prof-dir=/tmp/prof": the mesh's Bun processes
  // restarted here, after the setup, with those flags, so each profile holds the measured
  // phases (and a restart), not the setup's sign-ins, follows and uploads.
  const profileFlags = process.env.OASIS_BENCH_PROFILE;
  if (profileFlags) {
    process.env.OASIS_BUN_FLAGS = profileFlags;
    for (const svc of [...services, "edge"]) await bed.mesh.supervisor.stop(svc);
    for (const svc of [...services, "edge"]) await bed.mesh.supervisor.restart(svc);
    for (const svc of [...services, "edge"]) await metricsUp(svc);
    console.log(`profiling from here (${profileFlags}): ${[...services, "edge"].join(", ")} restarted`);
  }
  if (composeMode !== "only") {
    const ab = !!process.env.OASIS_BENCH_AB;
    // Read model off and on, interleaved (off, on, off, on) so the box's other load falls on both.
    const abRuns: Record<"off" | "on", Array<MixResult & { meshUs: number }>> = { off: [], on: [] };
    if (ab) {
      for (let round = 1; round <= 2; round++) {
        for (const mode of ["off", "on"] as const) {
          await readModel(mode === "on");
          await closedMix(oasis, 3, concurrency);
          abRuns[mode].push(await runOasis(`A/B round ${round}: Oasis DSB mix via edge, feed read model ${mode.toUpperCase()}`));
        }
      }
    }
    const on = await runOasis("Oasis DSB mix via edge (60% home, 30% user, 10% compose)");
    const fl = await runFloor("Floor DSB mix (floor-server.ts, same requests, same load generator)");
    // OASIS_BENCH_HOME_ONLY=0: no home-only runs (a profile then holds the mix alone).
    const homeOnly = { home: 1 };
    let oasisHome: Awaited<ReturnType<typeof runOasis>> | undefined;
    if (process.env.OASIS_BENCH_HOME_ONLY === "0") {
      console.log(`RATIO Oasis / floor: DSB mix ${(on.rps / fl.rps).toFixed(3)} (${on.rps.toFixed(0)} / ${fl.rps.toFixed(0)} req/s); goal 0.25`);
    } else {
      oasisHome = await runOasis("Oasis home feed only", homeOnly);
      const floorHome = await runFloor("Floor home feed only", homeOnly);
      console.log(`RATIO Oasis / floor: DSB mix ${(on.rps / fl.rps).toFixed(3)} (${on.rps.toFixed(0)} / ${fl.rps.toFixed(0)} req/s), home feed only ${(oasisHome.rps / floorHome.rps).toFixed(3)} (${oasisHome.rps.toFixed(0)} / ${floorHome.rps.toFixed(0)} req/s); goal 0.25 and 0.4`);
    }
    if (process.env.OASIS_BENCH_USER_ONLY === "1") {
      // User timelines alone: their cost per read against a home read's (above).
      const userOnly = { user: 1 };
      const oasisUser = await runOasis("Oasis user timelines only", userOnly);
      const floorUser = await runFloor("Floor user timelines only", userOnly);
      console.log(`RATIO Oasis / floor: user timelines only ${(oasisUser.rps / floorUser.rps).toFixed(3)} (${oasisUser.rps.toFixed(0)} / ${floorUser.rps.toFixed(0)} req/s); CPU per read (Bun + Redis) user ${oasisUser.meshUs.toFixed(0)} us, home ${oasisHome?.meshUs.toFixed(0) ?? "-"} us; edge user ${oasisUser.edgeUs.toFixed(0)} us, home ${oasisHome?.edgeUs.toFixed(0) ?? "-"} us`);
    }
    if (ab) {
      const sum = (rs: Array<MixResult & { meshUs: number }>) => {
        const n = rs.reduce((a, r) => a + r.total, 0);
        const secs = rs.reduce((a, r) => a + r.seconds, 0);
        return { rps: n / secs, us: rs.reduce((a, r) => a + r.meshUs * r.total, 0) / n, p99: pct(rs.flatMap((r) => r.all), 99) };
      };
      const [a, b] = [sum(abRuns.off), sum(abRuns.on)];
      console.log(
        `RATIO read model on / off (DSB mix, two interleaved rounds each): req/s ${(b.rps / a.rps).toFixed(2)} (${b.rps.toFixed(0)} / ${a.rps.toFixed(0)}), CPU per request (Bun + Redis) ${(b.us / a.us).toFixed(2)} (${b.us.toFixed(0)} / ${a.us.toFixed(0)} us), p99 ${b.p99.toFixed(0)} / ${a.p99.toFixed(0)} ms`,
      );
    }

    if (process.env.OASIS_BENCH_OPEN !== "0") {
      const step = Number(process.env.OASIS_BENCH_OPEN_SECONDS ?? 8);
      for (const [name, target, closed] of [["Oasis", oasis, on], ["Floor", floorTarget, fl]] as const) {
        const best = await openMix(target, closed.rps, step, (rate, r) =>
          console.log(`  open loop ${name} ${rate.toFixed(0).padStart(5)} req/s offered: ${r.rps.toFixed(0)} done/s, p50 ${pct(r.all, 50).toFixed(1)} ms, p99 ${pct(r.all, 99).toFixed(1)} ms, errors ${r.errors.home + r.errors.user + r.errors.compose}`),
        );
        console.log(`OPEN LOOP ${name}: highest fixed arrival rate with p99 < 100 ms: ${best.toFixed(0)} req/s (steps of ${step} s)`);
      }
    }
  }
  if (composeMode) await composePhase();
} finally {
  closeProbe?.();
  await floor?.stop();
  await bed.stop();
}
