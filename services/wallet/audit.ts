/**
 * The ledger audit: on every run it proves that total debits equal total credits
 * (posted and pending), that every account's stored sums equal the sums of its
 * transfers, and that no user account is negative. Drift is reported on /metrics
 * (gauges below) and logged at error level; it is never fixed here, because a ledger
 * corrected silently hides the bug that broke it (corrections are new transfers, made
 * by a person).
 */
import { Counter, Gauge } from "prom-client";
import type { Runtime } from "#kit/runtime.ts";
import type { AuditReport, LedgerStore } from "./domain/ledger.ts";

export interface Auditor {
  run(): Promise<AuditReport>;
}

export function createAuditor(rt: Runtime, store: LedgerStore): Auditor {
  const registers = [rt.metrics];
  const runs = new Counter({ name: "wallet_audit_runs_total", help: "Ledger audits run.", registers });
  const imbalance = new Gauge({
    name: "wallet_ledger_imbalance_drops",
    help: "Total debits minus total credits at the last audit, drops (posted and pending); 0 when sound.",
    labelNames: ["phase"],
    registers,
  });
  const drifted = new Gauge({ name: "wallet_ledger_drifted_accounts", help: "Accounts whose sums differ from their transfers at the last audit.", registers });
  const negative = new Gauge({ name: "wallet_ledger_negative_accounts", help: "User accounts below zero at the last audit.", registers });
  const issued = new Gauge({ name: "wallet_drops_issued", help: "Drops issued by the mint (earned), at the last audit.", registers });
  return {
    async run() {
      const r = await store.audit();
      runs.inc();
      imbalance.set({ phase: "posted" }, Number(r.debitsPosted - r.creditsPosted));
      imbalance.set({ phase: "pending" }, Number(r.debitsPending - r.creditsPending));
      drifted.set(r.drifted.length);
      negative.set(r.negative.length);
      issued.set(Number(r.issued));
      const sound = r.debitsPosted === r.creditsPosted && r.debitsPending === r.creditsPending && !r.drifted.length && !r.negative.length;
      if (!sound) {
        rt.log.error(
          {
            debitsPosted: String(r.debitsPosted),
            creditsPosted: String(r.creditsPosted),
            debitsPending: String(r.debitsPending),
            creditsPending: String(r.creditsPending),
            drifted: r.drifted.slice(0, 50).map(String),
            negative: r.negative.slice(0, 50).map(String),
          },
          "ledger audit found drift (not fixed)",
        );
      }
      return r;
    },
  };
}
