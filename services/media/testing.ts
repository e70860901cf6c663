/**
 * Test setup shared by media's test files: real identity, media and edge processes in
 * one namespace with a temporary data dir, users with tokens, and upload helpers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestMesh, type TestMesh } from "#kit/testing/mesh.ts";

export interface MediaTestbed {
  readonly mesh: TestMesh;
  readonly edge: string;
  readonly dataDir: string;
  /** Signs up reed_<n> and returns its user id and access token. */
  user(n: number): Promise<{ userId: string; token: string }>;
  /** POST /v1/media through the edge. */
  upload(token: string, body: Uint8Array | FormData, opts?: { bucket?: string; contentType?: string; idempotencyKey?: string }): Promise<{ status: number; json: any }>;
  stop(): Promise<void>;
}

/** `env` adds media settings (e.g. short timer intervals) for tests of background work. */
export async function startMediaTestbed(opts: { restart?: boolean; env?: Record<string, string> } = {}): Promise<MediaTestbed> {
  const dataDir = mkdtempSync(join(tmpdir(), "oasis-media-"));
  const mesh = await startTestMesh({
    services: ["identity", "media"],
    edge: true,
    restart: opts.restart,
    env: { OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "1024", ...opts.env, OASIS_MEDIA_DATA_DIR: dataDir },
  });
  const edge = mesh.url("edge");
  const post = async (path: string, body: unknown) =>
    (await fetch(`${edge}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json() as Promise<any>;
  return {
    mesh,
    edge,
    dataDir,
    async user(n) {
      const handle = `reed_${n}`;
      await post("/oasis.identity.v1.IdentityService/CreateAccount", { handle, email: `${handle}@reed.example`, password: "correct horse battery", requestId: `u-${n}` });
      const s = await post("/oasis.identity.v1.IdentityService/CreateSession", { login: handle, password: "correct horse battery" });
      return { userId: s.userId, token: s.accessToken };
    },
    async upload(token, body, o = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      if (!(body instanceof FormData)) headers["content-type"] = o.contentType ?? "application/octet-stream";
      if (o.idempotencyKey) headers["idempotency-key"] = o.idempotencyKey;
      const res = await fetch(`${edge}/v1/media?bucket=${o.bucket ?? "post-images"}`, { method: "POST", headers, body });
      return { status: res.status, json: await res.json() };
    },
    async stop() {
      await mesh.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
