/**
 * CPU time of processes from /proc/<pid>/stat (utime + stime, clock ticks), so a bench
 * can print CPU microseconds per request for each process of the mesh: on a 2-core box
 * that says where throughput goes better than req/s alone.
 */
import { readFileSync } from "node:fs";

const ticksPerSecond = 100; // USER_HZ on Linux

/** CPU seconds used so far by a process, or NaN if it cannot be read. */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return Number.NaN;
  }
}

/** Snapshot of several processes' CPU seconds. */
export function snapshot(pids: Record<string, number | undefined>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
}

/** "edge 120 us/req, identity 180 us/req" between two snapshots. */
export function perRequest(before: Record<string, number>, after: Record<string, number>, requests: number): string {
  return Object.keys(before)
    .map((k) => `${k} ${Math.round(((after[k]! - before[k]!) * 1e6) / Math.max(1, requests))} us/req`)
    .join(", ");
}
