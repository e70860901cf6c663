/** Wallet's long-lived state: runtime, the ledger store, clients of identity, graph and post, errors. */
import type { Client } from "@connectrpc/connect";
import { domainErrors, type DomainErrors } from "#kit/errors.ts";
import type { Runtime } from "#kit/runtime.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import { ErrorReasonSchema, type ErrorReason } from "#gen/oasis/wallet/v1/errors_pb.ts";
import type { WalletConfig } from "./config.ts";
import type { EarnRules } from "./domain/earning.ts";
import type { LedgerStore } from "./domain/ledger.ts";
import { ledgerEvents } from "./events.ts";
import { MysqlLedgerStore } from "./store.ts";

export interface WalletContext {
  readonly rt: Runtime<WalletConfig>;
  readonly store: LedgerStore;
  readonly rules: EarnRules;
  readonly identity: Client<typeof IdentityService>;
  readonly graph: Client<typeof GraphService>;
  readonly post: Client<typeof PostService>;
  readonly errors: DomainErrors<ErrorReason>;
}

export function createContext(rt: Runtime<WalletConfig>): WalletContext {
  return {
    // Post is needed only for tips: a mesh without it (the storm test's) still starts.
    get post() {
      return rt.client(PostService, "post");
    },
    rt,
    store: new MysqlLedgerStore(rt.db, () => rt.ids.next(), ledgerEvents(() => rt.outbox), () => rt.outbox.kick()),
    rules: rt.config.rules,
    identity: rt.client(IdentityService, "identity"),
    graph: rt.client(GraphService, "graph"),
    errors: domainErrors<ErrorReason>("wallet", ErrorReasonSchema),
  };
}
