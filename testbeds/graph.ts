/**
 * Test setup shared by graph's test files: real identity and graph processes in one
 * namespace (optionally with the edge), a helper to make real accounts, and direct
 * access to graph's own MySQL database and Redis key prefix, for recounts and for
 * checks that the caches rebuild from MySQL.
 */
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { Client } from "@connectrpc/connect";
import { baseConfig } from "#kit/config.ts";
import { connectPool, type Pool } from "#kit/mysql.ts";
import { testClient, type TestCaller } from "#kit/testing/clients.ts";
import { createReedAccounts } from "./reed-accounts.ts";
import { startTestMesh, type TestMesh } from "#kit/testing/mesh.ts";

export interface GraphTestbed {
  readonly mesh: TestMesh;
  graph(asUser?: TestCaller): Client<typeof GraphService>;
  identity(asUser?: TestCaller): Client<typeof IdentityService>;
  /** Creates accounts `reed_<n>` and returns their user ids in order. */
  accounts(members: readonly number[], opts?: { private?: (n: number) => boolean; concurrency?: number }): Promise<bigint[]>;
  /** A pool on the graph process's own database (opened on first use, closed by stop). */
  graphDb(): Pool;
  /** The prefix of every Redis key the graph process writes (`<ns>:oasis:graph:`). */
  readonly graphRedisPrefix: string;
  stop(): Promise<void>;
}

/** `env` adds to the mesh's environment (e.g. a graph setting under test). */
export async function startGraphTestbed(opts: { edge?: boolean; env?: Record<string, string> } = {}): Promise<GraphTestbed> {
  const mesh = await startTestMesh({ services: ["identity", "graph"], edge: opts.edge, env: { OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "1024", ...opts.env } });
  const graphConfig = baseConfig("graph", mesh.env);
  let db: Pool | undefined;
  const bed: GraphTestbed = {
    mesh,
    graph: (asUser) => testClient(GraphService, mesh.url("graph"), asUser),
    identity: (asUser) => testClient(IdentityService, mesh.url("identity"), asUser),
    accounts: (members, o = {}) => createReedAccounts((as) => bed.identity(as), members, o),
    graphDb: () => (db ??= connectPool(graphConfig.mysqlUrl, graphConfig.database)),
    graphRedisPrefix: graphConfig.redisKeyPrefix,
    async stop() {
      await db?.end();
      await mesh.stop();
    },
  };
  return bed;
}
