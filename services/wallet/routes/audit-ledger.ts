/** AuditLedger: runs the ledger audit now (audit.ts) and returns its report. */
import { create } from "@bufbuild/protobuf";
import { AuditLedgerResponseSchema, type AuditLedgerRequest, type AuditLedgerResponse } from "#gen/oasis/wallet/v1/wallet_service_pb.ts";
import type { Auditor } from "../audit.ts";

export function auditLedger(auditor: Auditor) {
  return {
    async auditLedger(_req: AuditLedgerRequest): Promise<AuditLedgerResponse> {
      const r = await auditor.run();
      return create(AuditLedgerResponseSchema, {
        debitsPosted: r.debitsPosted,
        creditsPosted: r.creditsPosted,
        debitsPending: r.debitsPending,
        creditsPending: r.creditsPending,
        driftedAccountIds: [...r.drifted],
        negativeAccountIds: [...r.negative],
        accounts: BigInt(r.accounts),
        issued: r.issued,
      });
    },
  };
}
