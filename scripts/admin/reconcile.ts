/**
 * `bun run admin reconcile <counts|ledger>`: the periodic reconcile and audit jobs, run
 * now as the operator (both RPCs are ACCESS_INTERNAL, which the operator identity acting
 * for itself passes: kit/auth.ts).
 *
 * - counts: interaction's ReconcileCounts. Recounts likes, live comments, refers and
 *   drops received from the rows they count for the given posts (or the posts changed
 *   since the job's last run) and fixes MySQL post_counts and Redis; prints checked and
 *   fixed.
 * - ledger: wallet's AuditLedger. Proves debits equal credits (posted and pending),
 *   every account's balances equal its transfers, no user account negative; prints the
 *   totals (drops) and exits 1 when anything does not hold (drift is reported, never
 *   fixed).
 */
import { toJson } from "@bufbuild/protobuf";
import { InteractionService, ReconcileCountsResponseSchema } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import { AuditLedgerResponseSchema, WalletService, type AuditLedgerResponse } from "#gen/oasis/wallet/v1/wallet_service_pb.ts";
import { connectOperator } from "./lib/connection.ts";
import { output, parse, UsageError, type AdminCommand } from "./lib/command.ts";

const help = `bun run admin reconcile <counts|ledger> [--post <id>]... [--json]

Runs a reconcile or audit job now, as the periodic jobs do.

  reconcile counts [--post <id>]...
      interaction: recounts posts' counters (likes, live comments, refers, drops
      received) from the rows they count and fixes MySQL post_counts and Redis where
      they differ. With --post (repeatable, at most 10,000), those posts; without,
      the posts changed since the job's last run. Prints posts checked and fixed.
  reconcile ledger
      wallet: audits the ledger: debits equal credits (posted and pending), every
      account's balances equal the sum of its transfers, no user account negative.
      Prints the totals in drops; exits 1 when something does not hold (drift is
      reported, never fixed).`;

/** The audit's findings; empty when the ledger holds. */
export function ledgerProblems(r: AuditLedgerResponse): string[] {
  const out: string[] = [];
  if (r.debitsPosted !== r.creditsPosted) out.push(`posted debits ${r.debitsPosted} != posted credits ${r.creditsPosted}`);
  if (r.debitsPending !== r.creditsPending) out.push(`pending debits ${r.debitsPending} != pending credits ${r.creditsPending}`);
  if (r.driftedAccountIds.length) out.push(`balances drifted on accounts ${r.driftedAccountIds.join(", ")}`);
  if (r.negativeAccountIds.length) out.push(`negative user accounts ${r.negativeAccountIds.join(", ")}`);
  return out;
}

export const command: AdminCommand = {
  name: "reconcile",
  summary: "run a reconcile job now: interaction's counters, wallet's ledger audit",
  help,
  async run(args, opts) {
    const { values, positionals } = parse(args, { post: { type: "string", multiple: true } });
    const job = positionals[0];
    if (positionals.length !== 1) throw new UsageError(job ? `unexpected argument "${positionals[1]}"` : "which job? counts or ledger");
    if (job !== "counts" && job !== "ledger") throw new UsageError(`unknown job "${job}"`);
    if (job === "ledger" && values.post) throw new UsageError("--post is for reconcile counts");
    const op = connectOperator();
    if (job === "counts") {
      const postIds = (values.post ?? []).map((p) => {
        if (!/^[1-9][0-9]{0,18}$/.test(p)) throw new UsageError(`--post ${p}: not a post id`);
        return BigInt(p);
      });
      const res = await op.client(InteractionService, "interaction").reconcileCounts({ postIds });
      output(opts, toJson(ReconcileCountsResponseSchema, res, { alwaysEmitImplicit: true }), () => `counts: ${res.checked} posts checked, ${res.fixed} fixed`);
      return;
    }
    {
      const res = await op.client(WalletService, "wallet").auditLedger({});
      const problems = ledgerProblems(res);
      output(opts, { ...(toJson(AuditLedgerResponseSchema, res, { alwaysEmitImplicit: true }) as object), ok: problems.length === 0, problems }, () =>
        [
          `ledger: ${problems.length ? "PROBLEMS" : "ok"} (${res.accounts} accounts)`,
          `  posted:  debits ${res.debitsPosted}, credits ${res.creditsPosted} (drops)`,
          `  pending: debits ${res.debitsPending}, credits ${res.creditsPending} (drops)`,
          `  issued by the mint: ${res.issued} drops`,
          ...problems.map((p) => `  ${p}`),
        ].join("\n"),
      );
      if (problems.length) process.exitCode = 1;
    }
  },
};
