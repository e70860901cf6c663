/**
 * The consistency scan, run at start and then on a timer: it makes the volume store and
 * the database agree after crashes.
 * - needles no media row points to (an upload crashed between writing bytes and
 *   committing its row) are deleted, except those of uploads still in progress;
 * - needles of deleted media are deleted;
 * - media rows whose needles are missing (bytes lost) are purged.
 * Each run reports what it removed (log line and returned counts).
 */
import { Counter } from "prom-client";
import type { MediaContext } from "./context.ts";
import { allNeedleKeys, mediaByIds, purgeMedia } from "./store.ts";

export interface ScanReport {
  readonly orphanNeedles: number;
  readonly deletedMediaNeedles: number;
  readonly brokenMedia: number;
}

export async function scan(ctx: MediaContext): Promise<ScanReport> {
  const referenced = await allNeedleKeys(ctx.rt.db);
  const mediaIds = [...new Set(referenced.values())];
  const records = await mediaByIds(ctx.rt.db, mediaIds);
  let orphanNeedles = 0;
  let deletedMediaNeedles = 0;
  for (const { key } of [...ctx.volumes.entries()]) {
    if (ctx.inFlight.has(key)) continue;
    const mediaId = referenced.get(key);
    if (mediaId === undefined) {
      // Written but never committed. Re-check the row: it may have committed since the
      // key list was read.
      if (ctx.inFlight.has(key)) continue;
      const again = await allNeedleKeysFor(ctx, key);
      if (again) continue;
      await ctx.volumes.delete(key);
      orphanNeedles++;
    } else if (records.get(mediaId)?.deleted) {
      await ctx.volumes.delete(key);
      deletedMediaNeedles++;
    }
  }
  const broken = [...records.values()].filter((r) => !r.deleted && r.variants.some((v) => !ctx.volumes.has(v.needleKey))).map((r) => r.id);
  await purgeMedia(ctx.rt.db, broken);
  for (const id of broken) ctx.directory.forget(id);
  await ctx.cache.invalidate(broken.map(String));
  const report = { orphanNeedles, deletedMediaNeedles, brokenMedia: broken.length };
  if (orphanNeedles || deletedMediaNeedles || broken.length) ctx.rt.log.warn(report, "media scan removed leftovers");
  return report;
}

async function allNeedleKeysFor(ctx: MediaContext, key: bigint): Promise<boolean> {
  const [rows] = await ctx.rt.db.query("SELECT 1 FROM media_variants WHERE needle_key = ?", [key]);
  return (rows as unknown[]).length > 0;
}

/** Counters of what scans removed, by kind (exported on /metrics). */
export function scanMetrics(register: import("prom-client").Registry) {
  return new Counter({ name: "media_scan_removed_total", help: "Leftovers removed by the media consistency scan.", labelNames: ["kind"], registers: [register] });
}
