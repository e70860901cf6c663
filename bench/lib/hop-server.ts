/**
 * A Connect server with a trivial IdentityService.BatchGetProfiles (profiles built from
 * the ids, no database, no interceptors) for bench/hop.ts, so what it measures is the
 * transport: `node` serves it with node:http2 + connectNodeAdapter (what kit/server.ts
 * uses), `bunserve` with Bun.serve (HTTP/1.1) + Connect's fetch handler.
 * Prints "ready" once listening.
 *
 * Run: bun bench/lib/hop-server.ts node|bunserve <port>
 */
import http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { createConnectRouter, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { ProfileSchema } from "#gen/oasis/identity/v1/profile_pb.ts";

function routes(router: ConnectRouter): void {
  router.service(IdentityService, {
    batchGetProfiles(req) {
      // About the size of a real profile: handle, display name, a short bio.
      const profiles = req.userIds.map((id) =>
        create(ProfileSchema, { userId: id, handle: `reed_${id}`, displayName: `Reed member ${id}`, bio: "taking pictures of the morning light" }),
      );
      return { profiles };
    },
  });
}

const kind = process.argv[2];
const port = Number(process.argv[3]);
if (kind === "node") {
  http2.createServer({}, connectNodeAdapter({ routes })).listen(port, "127.0.0.1", () => console.log("ready"));
} else if (kind === "bunserve") {
  const router = createConnectRouter();
  routes(router);
  const byPath = new Map(router.handlers.map((h) => [h.requestPath, createFetchHandler(h)]));
  Bun.serve({
    port,
    hostname: "127.0.0.1",
    fetch(req) {
      const handler = byPath.get(new URL(req.url).pathname);
      return handler ? handler(req) : new Response("not found\n", { status: 404 });
    },
  });
  console.log("ready");
} else {
  console.error("usage: bun bench/lib/hop-server.ts node|bunserve <port>");
  process.exit(2);
}
