/**
 * Test setup shared by graph's test files: real identity and graph processes in one
 * namespace (optionally with the edge), and a helper to make real accounts.
 */
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { Client } from "@connectrpc/connect";
import { testClient, type TestCaller } from "#kit/testing/clients.ts";
import { startTestMesh, type TestMesh } from "#kit/testing/mesh.ts";

export interface GraphTestbed {
  readonly mesh: TestMesh;
  graph(asUser?: TestCaller): Client<typeof GraphService>;
  identity(asUser?: TestCaller): Client<typeof IdentityService>;
  /** Creates accounts `reed_<n>` and returns their user ids in order. */
  accounts(members: readonly number[], opts?: { private?: (n: number) => boolean; concurrency?: number }): Promise<bigint[]>;
  stop(): Promise<void>;
}

export async function startGraphTestbed(opts: { edge?: boolean } = {}): Promise<GraphTestbed> {
  const mesh = await startTestMesh({ services: ["identity", "graph"], edge: opts.edge, env: { OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "1024" } });
  const bed: GraphTestbed = {
    mesh,
    graph: (asUser) => testClient(GraphService, mesh.url("graph"), asUser),
    identity: (asUser) => testClient(IdentityService, mesh.url("identity"), asUser),
    async accounts(members, o = {}) {
      const ids: bigint[] = new Array(members.length);
      let next = 0;
      await Promise.all(
        Array.from({ length: o.concurrency ?? 8 }, async () => {
          while (next < members.length) {
            const i = next++;
            const n = members[i]!;
            const res = await bed.identity().createAccount({ handle: `reed_${n}`, email: `reed_${n}@reed.example`, password: "correct horse battery", requestId: `acct-${n}` });
            ids[i] = res.account!.userId;
            if (o.private?.(n)) {
              await bed.identity(ids[i]).updateProfile({ profile: { userId: ids[i], private: true }, updateMask: { paths: ["private"] } });
            }
          }
        }),
      );
      return ids;
    },
    stop: () => mesh.stop(),
  };
  return bed;
}
