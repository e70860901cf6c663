/**
 * StartReindex and GetReindex (ACCESS_INTERNAL: mesh identities only, the operator's
 * included): the rebuild of every index (../reindex.ts),
 * run in this process in the background. Its record lives in Redis (`reindex:last`, 7
 * days) so any replica answers GetReindex; the generation marker `rebuild` (set while
 * a rebuild runs, events.ts) tells a second StartReindex that one already runs.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ErrorReason } from "#gen/oasis/search/v1/errors_pb.ts";
import type { SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import type { SearchContext } from "../context.ts";
import { rebuildKey } from "../events.ts";
import { reindex } from "../reindex.ts";
import { errors } from "./query.ts";

/** Redis key of the latest reindex's record (JSON). */
export const lastReindexKey = "reindex:last";
const recordTtlSeconds = 7 * 24 * 3600;

interface Record {
  running: boolean;
  startMs: number;
  endMs?: number;
  users?: number;
  posts?: number;
  error?: string;
}

const message = (r: Record) => ({
  running: r.running,
  startTime: timestampFromMs(r.startMs),
  endTime: r.endMs ? timestampFromMs(r.endMs) : undefined,
  users: BigInt(r.users ?? 0),
  posts: BigInt(r.posts ?? 0),
  error: r.error ?? "",
});

export function reindexRoutes(ctx: SearchContext): Pick<ServiceImpl<typeof SearchService>, "startReindex" | "getReindex"> {
  const redis = ctx.rt.redis;
  const save = (r: Record) => redis.set(lastReindexKey, JSON.stringify(r), "EX", recordTtlSeconds);
  const load = async () => {
    const raw = await redis.get(lastReindexKey);
    return raw ? (JSON.parse(raw) as Record) : undefined;
  };
  return {
    async startReindex() {
      const last = await load();
      if (last?.running && (await redis.exists(rebuildKey))) return { reindex: message(last), started: false };
      const rec: Record = { running: true, startMs: Date.now() };
      await save(rec);
      void reindex(ctx.rt)
        .then((r) => save({ running: false, startMs: rec.startMs, endMs: Date.now(), users: r.users, posts: r.posts }))
        .catch(async (err) => {
          ctx.rt.log.error({ err }, "reindex failed");
          await save({ running: false, startMs: rec.startMs, endMs: Date.now(), error: (err as Error).message ?? String(err) }).catch(() => {});
        });
      return { reindex: message(rec), started: true };
    },
    async getReindex() {
      const last = await load();
      if (!last) throw errors.notFound(ErrorReason.NO_REINDEX, "no reindex ran in the last 7 days");
      return { reindex: message(last) };
    },
  };
}
