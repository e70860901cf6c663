/**
 * The page path's CPU per home page read, in process against a local Redis (no mesh, no
 * HTTP): 40 viewers' home timelines of 30+ posts by 20 authors (300-character captions,
 * two media each, written in the read model's formats), read through FeedPagePath with
 * reuse, rendered items, the tight window and relationship sets, 150 rounds of 40 reads.
 * `changed` (default): a post is pushed to every timeline before each round, so every
 * read finds its page changed, as home reads do under the DSB mix; `still`: nothing
 * pushed (kept pages, tracked). Prints this process's CPU and Redis's CPU (INFO cpu) per
 * read, and the held pieces' counts. Run each variant in its own process, interleaved:
 *
 *   bun bench/page-path-micro.ts <full|held> [track|notrack] [changed|still]
 *
 * `OASIS_BENCH_MICRO_AB="watched=0,splice=0,coalesce=0;watched=1"` instead runs those
 * variants of held pieces with tracking (design note 59's switches: OASIS_EDGE_PAGE_WATCHED_KEYS,
 * OASIS_EDGE_PAGE_SPLICE, OASIS_EDGE_PAGE_COALESCE; unnamed ones 0) in this one process,
 * each on its own connection and caches, interleaved round by round (one post pushed, then
 * every variant reads the 40 changed pages, the order rotating), and each read's answer
 * made into a Response as the edge does; it prints process and Redis CPU per read by
 * variant (`OASIS_BENCH_MICRO_ROUNDS`, default 150).
 *
 * `held`: OASIS_EDGE_PAGE_HELD_ENTRIES's held pieces (held.ts); `notrack`: page tracking
 * off. The pushes'
 * own client CPU is in the process figure (the same in every variant).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { Redis } from "ioredis";
import { GetHomeFeedRequestSchema } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import { RelationshipSchema } from "#gen/oasis/graph/v1/graph_pb.ts";
import { ProfileSchema } from "#gen/oasis/identity/v1/profile_pb.ts";
import { PostCountsSchema } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { PostSchema, Visibility } from "#gen/oasis/post/v1/post_pb.ts";
import { MediaSchema } from "#gen/oasis/media/v1/media_pb.ts";
import { createIdGenerator, idTimeMs } from "#kit/ids.ts";
import { coalesceWrites, deleteKeysWithPrefix } from "#kit/redis.ts";
import { FeedPagePath, ItemCache, PageReuse } from "../services/feed/page-path/index.ts";
import { encodeStoredPost } from "../services/feed/page-path/pieces.ts";
const url = "redis://127.0.0.1:6379";
const P = `micro${process.pid}:oasis:feed:`;
const other = new Redis(url);
const ids = createIdGenerator(11);
const viewers = Array.from({ length: 40 }, () => ids.next());
const authors = Array.from({ length: 20 }, () => ids.next());
const cap = "x".repeat(300);
const mkPost = (id: bigint, a: bigint) => encodeStoredPost(create(PostSchema, { postId: id, authorId: a, caption: cap, visibility: Visibility.PUBLIC, media: [create(MediaSchema, { id, ownerId: 5n, bucket: "post-images", contentType: "image/jpeg", width: 1024, height: 768 } as never), create(MediaSchema, { id: id + 1n, ownerId: 5n, bucket: "post-images", contentType: "image/jpeg", width: 800, height: 600 } as never)] }));
async function push() {
  const id = ids.next(); const a = authors[Number(id % 20n)]!;
  const m = other.multi().set(`${P}rm:post:${id}`, mkPost(id, a)).set(`${P}rm:counts:${id}`, Buffer.from(toBinary(PostCountsSchema, create(PostCountsSchema, { postId: id, likes: 3n })))).set(`${P}rm:whole:${id}`, "1");
  for (const v of viewers) m.zadd(`${P}ht:${v}`, idTimeMs(id), String(id));
  await m.exec();
}
const m = other.multi().set(`${P}rm:page-path`, "604800000 604800 1 ");
for (const v of viewers) { m.set(`${P}hb:${v}`, "1"); m.zadd(`${P}active`, Date.now(), String(v)); for (const a of authors) m.set(`${P}rm:rel:${v}:${a}`, Buffer.from(toBinary(RelationshipSchema, create(RelationshipSchema, { userId: a, following: true })))); }
for (const a of authors) m.set(`${P}rm:author:${a}`, Buffer.from(toBinary(ProfileSchema, create(ProfileSchema, { userId: a, handle: `user${a}`, displayName: "Some Name", bio: "b".repeat(120) } as never))));
await m.exec();
for (let i = 0; i < 30; i++) await push();
const abSpec = process.env.OASIS_BENCH_MICRO_AB;
if (abSpec) {
  await microAB(abSpec);
  process.exit(0);
}
const variant = process.argv[2] ?? "full";
const conn = new Redis(url);
const pp = new FeedPagePath(conn, P, { reuse: new PageReuse(20000), items: new ItemCache(20000), tracking: process.argv[3] !== "notrack", tightWindow: true, sets: true, held: variant === "held" ? 50000 : 0 });
await Bun.sleep(200);
const req = create(GetHomeFeedRequestSchema, { pageSize: 10 });
const redisCpu = async () => { const s = String(await other.info("cpu")); return Number(/used_cpu_user:([\d.]+)/.exec(s)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(s)![1]); };
for (const v of viewers) await pp.homeEncoded(req, v);
let reads = 0; const c0 = process.cpuUsage(); const r0 = await redisCpu(); const t0 = performance.now();
for (let round = 0; round < 150; round++) {
  if (process.argv[4] !== "still") await push();
  await Promise.all(viewers.map((v) => pp.homeEncoded(req, v).then((x) => { if (!x.served) throw new Error(String((x as any).reason)); reads++; })));
}
const c1 = process.cpuUsage(); const r1 = await redisCpu();
console.log(`${variant} ${process.argv[3] ?? "track"} ${process.argv[4] ?? "changed"}: ${reads} changed reads in ${(performance.now() - t0).toFixed(0)} ms; process CPU ${((c1.user + c1.system - c0.user - c0.system) / reads).toFixed(0)} us/read; Redis ${(((r1 - r0) * 1e6) / reads).toFixed(0)} us/read; held ${JSON.stringify({ hits: pp.held?.hits, fetched: pp.held?.fetched, fb: pp.held?.fallbacks })}`);
conn.disconnect(); await deleteKeysWithPrefix(url, P); other.disconnect();

/** OASIS_BENCH_MICRO_AB: the variants interleaved in this process (see the header). */
async function microAB(spec: string): Promise<void> {
  const variants = spec.split(";").map((v) => v.trim()).filter(Boolean).map((v) => {
    const on = new Map(v.split(",").map((kv) => kv.split("=").map((x) => x.trim()) as [string, string]));
    const flag = (k: string) => on.get(k) === "1";
    const conn = flag("coalesce") ? coalesceWrites(new Redis(url)) : new Redis(url);
    const pp = new FeedPagePath(conn, P, { reuse: new PageReuse(20000), items: new ItemCache(20000, undefined, flag("splice")), tracking: true, tightWindow: true, sets: true, held: 50000, watchedKeys: flag("watched") });
    return { label: v, conn, pp, reads: 0, cpuUs: 0, redisUs: 0 };
  });
  await Bun.sleep(300);
  const req = create(GetHomeFeedRequestSchema, { pageSize: 10 });
  const redisCpu = async () => { const s = String(await other.info("cpu")); return Number(/used_cpu_user:([\d.]+)/.exec(s)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(s)![1]); };
  let sink = 0;
  const readAll = (v: (typeof variants)[number]) =>
    Promise.all(viewers.map(async (viewer) => {
      const x = await v.pp.homeEncoded(req, viewer);
      if (!x.served) throw new Error(String((x as { reason?: string }).reason));
      // As the edge answers it (edge/app.ts respond): the JSON, text or bytes, in a Response.
      sink += new Response(x.response.json ?? x.response.bytes, { headers: { "content-type": "application/json" } }).status;
      v.reads++;
    }));
  for (const v of variants) for (let i = 0; i < 3; i++) { await push(); await readAll(v); v.reads = 0; }
  const rounds = Number(process.env.OASIS_BENCH_MICRO_ROUNDS ?? 150);
  for (let round = 0; round < rounds; round++) {
    await push();
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(round + k) % variants.length]!;
      const c0 = process.cpuUsage();
      const r0 = await redisCpu();
      await readAll(v);
      const r1 = await redisCpu();
      const c1 = process.cpuUsage();
      v.cpuUs += c1.user + c1.system - c0.user - c0.system;
      v.redisUs += (r1 - r0) * 1e6;
    }
  }
  const base = variants[0]!;
  for (const v of variants) {
    console.log(`MICRO [${v.label}]: ${v.reads} changed home reads; process CPU ${(v.cpuUs / v.reads).toFixed(0)} us/read (${(v.cpuUs / v.reads / (base.cpuUs / base.reads)).toFixed(2)}x), Redis ${(v.redisUs / v.reads).toFixed(0)} us/read (${(v.redisUs / v.reads / (base.redisUs / base.reads)).toFixed(2)}x); watched keys ${v.pp.tracker?.watchedSize ?? 0}`);
    v.conn.disconnect();
  }
  console.log(`load: ${(await Bun.file("/proc/loadavg").text()).trim()} (${sink > 0 ? "ok" : "no answers"})`);
  await deleteKeysWithPrefix(url, P);
  other.disconnect();
}
