/**
 * Builds the media process: runtime (MySQL `oasis_media`, Redis, bus + outbox), the volume
 * store in the data dir, MediaService, the byte-serving HTTP path, the consistency
 * scan (at start and every `scanIntervalMs`) and compaction of sealed volumes (every
 * `compactIntervalMs`, after the scan has flagged the needles of deleted media).
 *
 * One process owns a data dir (Haystack's store machine): in Kubernetes media runs as a
 * StatefulSet with a volume per pod; bytes are immutable, so the edge and any CDN in
 * front cache them forever.
 */
import { join } from "node:path";
import { Counter, Gauge } from "prom-client";
import { openRuntime, serve, type App } from "#kit/runtime.ts";
import { bind } from "#kit/server.ts";
import { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import type { MediaConfig } from "./config.ts";
import { compactionMetrics, compactVolumes } from "./compaction.ts";
import { createContext, type MediaContext } from "./context.ts";
import { mediaHttp } from "./http.ts";
import { scan, scanMetrics } from "./scan.ts";
import { mediaService } from "./service.ts";
import { VolumeStore } from "./volume/volume-store.ts";

/** The media app; `context` lets an in-process test reach the volume store it runs on. */
export interface MediaApp extends App {
  readonly context: MediaContext;
}

export async function createMediaApp(config: MediaConfig): Promise<MediaApp> {
  // Redis: the cache of live media and policies post reads (shared-rules/media-cache.ts).
  const rt = await openRuntime(config, { migrationsDir: join(import.meta.dir, "migrations"), redis: true, bus: true });
  const volumes = await VolumeStore.open({ dir: config.dataDir, maxVolumeBytes: config.maxVolumeBytes });
  rt.log.info({ ...volumes.recovery, dir: config.dataDir }, "volumes opened");
  rt.onStop(() => volumes.close());
  const ctx = createContext(rt, volumes);
  const app = serve(rt, {
    bindings: [bind(MediaService, mediaService(ctx))],
    httpFallback: mediaHttp(ctx),
    // An upload message carries the image: up to 25 MiB of data plus framing.
    readMaxBytes: 27 * 1024 * 1024,
  });
  const registry = rt.metrics;
  const removed = scanMetrics(registry);
  // A counter (it only grows): at each scrape it advances by the store's reads since the last.
  let readsCounted = 0;
  new Counter({
    name: "media_volume_reads_total",
    help: "Positioned reads made by the volume store (one per served image).",
    registers: [registry],
    collect() {
      const now = volumes.reads;
      this.inc(Math.max(0, now - readsCounted));
      readsCounted = now;
    },
  });
  new Gauge({
    name: "media_volume_needles",
    help: "Live needles in the volume store.",
    registers: [registry],
    collect() {
      this.set([...volumes.entries()].length);
    },
  });
  const runScan = async () => {
    const r = await scan(ctx);
    removed.inc({ kind: "orphan_needle" }, r.orphanNeedles);
    removed.inc({ kind: "deleted_media_needle" }, r.deletedMediaNeedles);
    removed.inc({ kind: "broken_media" }, r.brokenMedia);
  };
  await runScan();
  rt.every("media-scan", config.scanIntervalMs, runScan);
  const compacted = compactionMetrics(registry);
  rt.every("media-compaction", config.compactIntervalMs, async () => {
    for (const r of await compactVolumes(volumes, config.compactMinDeletedRatio, rt.log)) {
      compacted.volumes.inc();
      compacted.reclaimedBytes.inc(r.reclaimedBytes);
    }
  });
  return Object.assign(app, { context: ctx });
}
