/**
 * A running social mesh for tests that cross services (posts, feeds, interactions):
 * real processes for the named services plus the edge, a temporary media dir, and
 * helpers that act like the app: sign up Reed98 members, follow, upload real photos,
 * post real captions. Calls go straight to services with the user's caller assertion
 * (as the edge would forward it); `edgeCall` goes through the edge with a real token.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@connectrpc/connect";
import { FeedService } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import { testClient, type TestCaller } from "#kit/testing/clients.ts";
import { createReedAccounts } from "./reed-accounts.ts";
import { startTestMesh, type TestMesh } from "#kit/testing/mesh.ts";
import { imagePath, photoNames } from "../demo/data.ts";

export interface SocialTestbed {
  readonly mesh: TestMesh;
  identity(as?: TestCaller): Client<typeof IdentityService>;
  graph(as?: TestCaller): Client<typeof GraphService>;
  media(as?: TestCaller): Client<typeof MediaService>;
  post(as?: TestCaller): Client<typeof PostService>;
  feed(as?: TestCaller): Client<typeof FeedService>;
  interaction(as?: TestCaller): Client<typeof InteractionService>;
  /** Signs up reed_<n> for each member; user ids in order. */
  users(members: readonly number[], opts?: { private?: (n: number) => boolean; concurrency?: number }): Promise<bigint[]>;
  /** Uploads real photo number `i` (cycling through demo/data/images) as `user`; returns its media id. */
  photo(user: bigint, i: number): Promise<bigint>;
  /** Signs in through the edge; returns the access token. */
  token(n: number): Promise<string>;
  /** POST a Connect JSON call through the edge. */
  edgeCall(path: string, body: unknown, token?: string): Promise<{ status: number; json: any }>;
  stop(): Promise<void>;
}

export async function startSocialTestbed(services: readonly string[], opts: { env?: Record<string, string> } = {}): Promise<SocialTestbed> {
  const dataDir = mkdtempSync(join(tmpdir(), "oasis-social-"));
  const mesh = await startTestMesh({
    services,
    edge: true,
    env: { OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "1024", OASIS_MEDIA_DATA_DIR: dataDir, ...opts.env },
  });
  const photos = photoNames.map((n) => readFileSync(imagePath(n)));
  const bed: SocialTestbed = {
    mesh,
    identity: (as) => testClient(IdentityService, mesh.url("identity"), as),
    graph: (as) => testClient(GraphService, mesh.url("graph"), as),
    media: (as) => testClient(MediaService, mesh.url("media"), as),
    post: (as) => testClient(PostService, mesh.url("post"), as),
    feed: (as) => testClient(FeedService, mesh.url("feed"), as),
    interaction: (as) => testClient(InteractionService, mesh.url("interaction"), as),
    users: (members, o = {}) => createReedAccounts((as) => bed.identity(as), members, o),
    async photo(user, i) {
      const r = await bed.media(user).uploadMedia({ bucket: "post-images", data: photos[i % photos.length]!, requestId: `photo-${user}-${i}` });
      return r.media!.id;
    },
    async token(n) {
      return (await bed.edgeCall("/oasis.identity.v1.IdentityService/CreateSession", { login: `reed_${n}`, password: "correct horse battery" })).json.accessToken;
    },
    async edgeCall(path, body, token) {
      const res = await fetch(`${mesh.url("edge")}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: await res.json() };
    },
    async stop() {
      await mesh.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return bed;
}

export { inParallel } from "#kit/parallel.ts";
