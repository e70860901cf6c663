/**
 * Compaction, run by the service on a timer: sealed volumes whose dead bytes (deleted
 * or overwritten needles) are at least `minDeletedRatio` of their needle bytes are
 * rewritten without them (VolumeStore.compact swaps the new file and index in while
 * reads continue). Haystack compacts the same way, per volume, online. The active
 * volume is left alone: it still takes writes, and is compacted once it is sealed.
 */
import type { Logger } from "#kit/logger.ts";
import { Counter, type Registry } from "prom-client";
import type { VolumeStore } from "./volume/volume-store.ts";

export interface CompactionReport {
  readonly volumeId: number;
  /** Dead share of the volume's needle bytes before compaction, 0..1. */
  readonly deadRatio: number;
  readonly reclaimedBytes: number;
  readonly liveNeedles: number;
}

/** Compacts every sealed volume at or above `minDeletedRatio`; one report per compacted volume. */
export async function compactVolumes(volumes: VolumeStore, minDeletedRatio: number, log: Logger): Promise<CompactionReport[]> {
  const reports: CompactionReport[] = [];
  for (const v of volumes.stats()) {
    if (!v.readOnly || v.deadBytes <= 0) continue;
    const deadRatio = v.deadBytes / (v.deadBytes + v.liveBytes);
    if (deadRatio < minDeletedRatio) continue;
    const r = await volumes.compact(v.volumeId);
    const report = { volumeId: v.volumeId, deadRatio, ...r };
    log.info(report, "media volume compacted");
    reports.push(report);
  }
  return reports;
}

/** Counters of compaction work (exported on /metrics). */
export function compactionMetrics(register: Registry) {
  return {
    volumes: new Counter({ name: "media_compactions_total", help: "Volumes rewritten by compaction.", registers: [register] }),
    reclaimedBytes: new Counter({ name: "media_compaction_reclaimed_bytes_total", help: "Bytes of dead needles removed from volume files by compaction.", registers: [register] }),
  };
}
