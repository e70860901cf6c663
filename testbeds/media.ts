/**
 * Test setup shared by media's test files: real identity, media and edge processes in
 * one namespace with a temporary data dir, users with tokens, and upload helpers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, createDeflate } from "node:zlib";
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

/**
 * A decompression bomb: a valid RGB PNG of `width` x `height` black pixels whose IDAT is
 * zlib at level 9 over all-zero rows (filter byte 0 + 3 bytes a pixel), so 16000x16000
 * is about 730 KiB on disk and 768 MB once decoded. Built by streaming one zero row
 * through the deflater, never holding the decoded size in memory. PNG layout: RFC 2083
 * (signature, IHDR, IDAT, IEND; each chunk length + type + data + CRC-32).
 */
export async function pngBomb(width: number, height: number): Promise<Buffer> {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.byteLength);
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([head, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB; compression, filter and interlace stay 0
  const deflater = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflater.on("data", (b: Buffer) => parts.push(b));
  const ended = new Promise((resolve, reject) => deflater.on("end", resolve).on("error", reject));
  const row = Buffer.alloc(1 + width * 3);
  for (let y = 0; y < height; y++) if (!deflater.write(row)) await new Promise((resolve) => deflater.once("drain", resolve));
  deflater.end();
  await ended;
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", Buffer.concat(parts)), chunk("IEND", Buffer.alloc(0))]);
}
