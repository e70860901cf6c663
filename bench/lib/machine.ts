/** What the benchmark ran on, printed at the top of every bench (numbers mean little without it). */
import { cpus, totalmem } from "node:os";

export function machineLine(): string {
  const c = cpus();
  return `machine: ${c.length} cores (${c[0]?.model ?? "unknown"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; Bun ${Bun.version}; load generator and mesh share these cores`;
}
