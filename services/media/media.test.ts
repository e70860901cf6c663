/**
 * Media through the edge, on the real images: uploads (raw and multipart), variants
 * (exact sizes), EXIF stripping, orientation, bad input, body limits, policies changed at
 * run time (size, animation, watermark), idempotency, decompression bombs refused from the
 * header, and serving (ETag, 304, Range, 404 for unknown and deleted ids).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http from "node:http";
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import { testClient } from "#kit/testing/clients.ts";
import { dataDir, imagePath, photoNames } from "../../demo/data.ts";
import { inspect, processImage } from "./pipeline.ts";
import { pngBomb, startMediaTestbed, type MediaTestbed } from "../../testbeds/media.ts";

let bed: MediaTestbed;
let alice: { userId: string; token: string };
let bob: { userId: string; token: string };
const allImages = [...photoNames, "no_time_for_that_tiny.gif"];

beforeAll(async () => {
  bed = await startMediaTestbed();
  alice = await bed.user(50);
  bob = await bed.user(51);
});
afterAll(() => bed?.stop());

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${bed.edge}${path}`, { headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

describe("uploads", () => {
  test("every real image uploads and its three variants serve back", async () => {
    for (const name of allImages) {
      const bytes = readFileSync(imagePath(name));
      const up = await bed.upload(alice.token, bytes, { contentType: "application/octet-stream" });
      expect(up.status).toBe(200);
      const m = up.json.media;
      expect(typeof m.id).toBe("string");
      expect(Object.keys(m.variants).sort()).toEqual(["feed", "orig", "thumb"]);
      expect(m.blurhash.length).toBeGreaterThan(5);
      expect(m.contentHash).toBe(new Bun.CryptoHasher("sha256").update(bytes).digest("hex"));
      for (const v of ["thumb", "feed", "orig"]) {
        const r = await get(m.variants[v].url);
        expect(r.status).toBe(200);
        expect(r.headers.get("content-type")).toBe(m.variants[v].contentType);
        expect(r.body.byteLength).toBe(Number(m.variants[v].sizeBytes));
        const meta = await sharp(r.body, { animated: true }).metadata();
        expect(meta.width).toBe(m.variants[v].width);
        expect(meta.pageHeight ?? meta.height).toBe(m.variants[v].height);
      }
      expect(m.variants.thumb.width).toBeLessThanOrEqual(320);
      expect(m.variants.feed.width).toBeLessThanOrEqual(1080);
      // Variants fit their box exactly: the longer side is the box's, never enlarged.
      const longest = Math.max(m.width, m.height);
      expect(Math.max(m.variants.thumb.width, m.variants.thumb.height)).toBe(Math.min(320, longest));
      expect(Math.max(m.variants.feed.width, m.variants.feed.height)).toBe(Math.min(1080, longest));
      expect([m.variants.orig.width, m.variants.orig.height]).toEqual([m.width, m.height]);
      if (name.endsWith(".gif")) {
        expect(m.animated).toBe(true);
        expect((await sharp((await get(m.variants.orig.url)).body, { animated: true }).metadata()).pages).toBeGreaterThan(1);
      }
    }
  });

  test("hubble_deep_field.jpg comes back without its EXIF", async () => {
    const bytes = readFileSync(imagePath("hubble_deep_field.jpg"));
    expect((await sharp(bytes).metadata()).exif).toBeDefined();
    const m = (await bed.upload(alice.token, bytes, { contentType: "image/jpeg" })).json.media;
    for (const v of ["thumb", "feed", "orig"]) {
      const meta = await sharp((await get(m.variants[v].url)).body).metadata();
      expect(meta.exif).toBeUndefined();
    }
  });

  test("EXIF orientation is applied before it is stripped", async () => {
    // A real photo saved with orientation 6 (rotate 90 degrees to display).
    const rotated = await sharp(readFileSync(imagePath("chelsea.png"))).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const m = (await bed.upload(alice.token, rotated, { contentType: "image/jpeg" })).json.media;
    expect([m.width, m.height]).toEqual([300, 451]);
    const orig = await sharp((await get(m.variants.orig.url)).body).metadata();
    expect([orig.width, orig.height, orig.orientation]).toEqual([300, 451, undefined]);
  });

  test("multipart/form-data uploads take the file part", async () => {
    const form = new FormData();
    form.append("caption", "not a file");
    form.append("file", new Blob([readFileSync(imagePath("coffee.png"))], { type: "image/png" }), "coffee.png");
    const up = await bed.upload(alice.token, form);
    expect(up.status).toBe(200);
    expect([up.json.media.width, up.json.media.height]).toEqual([600, 400]);
  });

  test("a truncated JPEG and a text file named .png are a clear 400", async () => {
    const truncated = await bed.upload(alice.token, readFileSync(imagePath("truncated.jpg")), { contentType: "image/jpeg" });
    expect(truncated.status).toBe(400);
    expect(truncated.json.details.find((d: any) => d.type === "google.rpc.ErrorInfo").debug.reason).toBe("CORRUPT_IMAGE");
    const text = await bed.upload(alice.token, readFileSync(`${dataDir}/SOURCES.md`), { contentType: "image/png" });
    expect(text.status).toBe(400);
    expect(text.json.details.find((d: any) => d.type === "google.rpc.ErrorInfo").debug.reason).toBe("UNSUPPORTED_TYPE");
    expect(text.json.message).toContain("not an image");
    const noToken = await fetch(`${bed.edge}/v1/media`, { method: "POST", body: readFileSync(imagePath("coffee.png")) });
    expect(noToken.status).toBe(401);
  });

  test("a 30 MB body is refused before it is all read", async () => {
    const url = new URL(`${bed.edge}/v1/media?bucket=post-images`);
    const total = 30 * 1024 * 1024;
    const outcome = await new Promise<{ status: number; sentBytes: number }>((resolve, reject) => {
      let sent = 0;
      const req = http.request(
        { host: url.hostname, port: url.port, path: url.pathname + url.search, method: "POST", headers: { authorization: `Bearer ${alice.token}`, "content-type": "image/jpeg", "content-length": total } },
        (res) => {
          resolve({ status: res.statusCode!, sentBytes: sent });
          res.resume();
          req.destroy();
        },
      );
      req.on("error", () => {});
      const chunk = Buffer.alloc(64 * 1024);
      // Send only the first 1 MiB, then wait: the answer must come without the rest.
      for (let i = 0; i < 16; i++) {
        req.write(chunk);
        sent += chunk.byteLength;
      }
      setTimeout(() => reject(new Error("no answer without the full body")), 5_000);
    });
    expect(outcome.status).toBe(400);
    expect(outcome.sentBytes).toBeLessThan(total);
  });

  test("policies change at run time; animated images follow the bucket's rule", async () => {
    const gif = readFileSync(imagePath("no_time_for_that_tiny.gif"));
    const avatar = await bed.upload(alice.token, gif, { bucket: "avatars", contentType: "image/gif" });
    expect(avatar.status).toBe(400);
    expect(avatar.json.message).toContain("allowed_content_types");
    const unknown = await bed.upload(alice.token, gif, { bucket: "no-such-bucket" });
    expect(unknown.json.details[0].debug.fieldViolations[0].field).toBe("bucket");

    const media = testClient(MediaService, bed.mesh.url("media"), "service");
    const { policies } = await media.listBucketPolicies({});
    const post = policies.find((p) => p.bucket === "post-images")!;
    await media.updateBucketPolicy({ policy: { ...post, maxBytes: 100_000n } });
    const big = await bed.upload(alice.token, readFileSync(imagePath("astronaut.png")), { contentType: "image/png" });
    expect(big.status).toBe(400);
    expect(big.json.details.find((d: any) => d.type === "google.rpc.ErrorInfo").debug.metadata.rule).toBe("max_bytes");
    await media.updateBucketPolicy({ policy: post });
    expect((await bed.upload(alice.token, readFileSync(imagePath("astronaut.png")), { contentType: "image/png" })).status).toBe(200);
  });

  test("an animated GIF is refused with ANIMATED_NOT_ALLOWED where the bucket says so", async () => {
    const gif = readFileSync(imagePath("no_time_for_that_tiny.gif"));
    const media = testClient(MediaService, bed.mesh.url("media"), "service");
    const post = (await media.listBucketPolicies({})).policies.find((p) => p.bucket === "post-images")!;
    expect(post.allowAnimated).toBe(true);
    try {
      await media.updateBucketPolicy({ policy: { ...post, allowAnimated: false } });
      const refused = await bed.upload(alice.token, gif, { contentType: "image/gif" });
      expect(refused.status).toBe(400);
      const info = refused.json.details.find((d: any) => d.type === "google.rpc.ErrorInfo").debug;
      expect(info.reason).toBe("ANIMATED_NOT_ALLOWED");
      expect(info.metadata.rule).toBe("allow_animated");
      // A still GIF is not animated: the rule is about frames, not the type.
      const still = await sharp(gif, { pages: 1 }).gif().toBuffer();
      expect((await bed.upload(alice.token, still, { contentType: "image/gif" })).status).toBe(200);
    } finally {
      await media.updateBucketPolicy({ policy: post });
    }
    expect((await bed.upload(alice.token, gif, { contentType: "image/gif" })).status).toBe(200);
  });

  test("a bucket's text watermark is drawn on the feed variant only", async () => {
    const bytes = readFileSync(imagePath("coffee.png"));
    const media = testClient(MediaService, bed.mesh.url("media"), "service");
    const post = (await media.listBucketPolicies({})).policies.find((p) => p.bucket === "post-images")!;
    expect(post.watermarkText).toBe("");
    const plain = (await bed.upload(alice.token, bytes, { contentType: "image/png" })).json.media;
    let marked: any;
    try {
      await media.updateBucketPolicy({ policy: { ...post, watermarkText: "@reed_50 on Oasis" } });
      marked = (await bed.upload(alice.token, bytes, { contentType: "image/png" })).json.media;
    } finally {
      await media.updateBucketPolicy({ policy: post });
    }
    const pixels = async (m: any, v: string) => sharp((await get(m.variants[v].url)).body).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const a = await pixels(plain, "feed");
    const b = await pixels(marked, "feed");
    expect([b.info.width, b.info.height]).toEqual([a.info.width, a.info.height]);
    // Pixels that changed clearly (more than lossy re-encoding would), and where: the
    // text is drawn at the bottom right.
    const { width, height, channels } = a.info;
    let changed = 0;
    let bottomRight = 0;
    for (let i = 0; i < width * height; i++) {
      let d = 0;
      for (let c = 0; c < channels; c++) d = Math.max(d, Math.abs(a.data[i * channels + c]! - b.data[i * channels + c]!));
      if (d > 48) {
        changed++;
        if (i % width >= width / 2 && Math.floor(i / width) >= height / 2) bottomRight++;
      }
    }
    expect(changed).toBeGreaterThan(200);
    expect(bottomRight / changed).toBeGreaterThan(0.95);
    // thumb and orig carry no watermark: the same image gives the same bytes.
    for (const v of ["thumb", "orig"]) expect(Buffer.compare((await get(marked.variants[v].url)).body, (await get(plain.variants[v].url)).body)).toBe(0);
  });

  test("an Idempotency-Key makes a retried upload return the same media", async () => {
    const bytes = readFileSync(imagePath("rocket.jpg"));
    const a = await bed.upload(alice.token, bytes, { contentType: "image/jpeg", idempotencyKey: "rocket-1" });
    const b = await bed.upload(alice.token, bytes, { contentType: "image/jpeg", idempotencyKey: "rocket-1" });
    expect(b.json.media.id).toBe(a.json.media.id);
  });
});

/** A process's resident and peak resident memory, in bytes, from /proc/<pid>/status. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)![1]) * 1024;
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

describe("decompression bombs", () => {
  test("a 16000x16000 PNG bomb is a 400 from its header, and media's memory barely moves", async () => {
    const bomb = await pngBomb(16000, 16000);
    expect(bomb.byteLength).toBeLessThan(1024 * 1024); // 768 MB of pixels in under 1 MiB
    const pid = bed.mesh.supervisor.pid("media")!;
    const before = memoryOf(pid);
    const started = performance.now();
    const res = await bed.upload(alice.token, bomb, { contentType: "image/png" });
    const elapsedMs = performance.now() - started;
    const after = memoryOf(pid);
    expect(res.status).toBe(400);
    expect(res.json.code).toBe("invalid_argument");
    const info = res.json.details.find((d: any) => d.type === "google.rpc.ErrorInfo").debug;
    expect(info.reason).toBe("BAD_DIMENSIONS");
    expect(info.metadata.rule).toBe("max_width/max_height");
    const bad = res.json.details.find((d: any) => d.type === "google.rpc.BadRequest").debug;
    expect(bad.fieldViolations[0].field).toBe("data");
    expect(bad.fieldViolations[0].description).toContain("16000x16000");
    // Decoding it would take 768 MB: the peak (VmHWM) would jump by that much.
    expect(after.peak - before.peak).toBeLessThan(100 * 1024 * 1024);
    expect(after.rss - before.rss).toBeLessThan(100 * 1024 * 1024);
    console.log(
      `bomb: ${(bomb.byteLength / 1024).toFixed(0)} KiB, 16000x16000 -> ${res.status} through the edge in ${elapsedMs.toFixed(0)} ms; ` +
        `media (pid ${pid}) RSS ${(before.rss / 2 ** 20).toFixed(0)} -> ${(after.rss / 2 ** 20).toFixed(0)} MiB, peak ${(before.peak / 2 ** 20).toFixed(0)} -> ${(after.peak / 2 ** 20).toFixed(0)} MiB`,
    );
  });

  test("the decoder refuses an image over its pixel ceiling even without the policy check", async () => {
    const bomb = await sharp({ create: { width: 9000, height: 9000, channels: 3, background: "black" } }).png({ compressionLevel: 9 }).toBuffer();
    const info = await inspect(bomb);
    if ("kind" in info) throw new Error(`inspect: ${info.detail}`);
    expect([info.width, info.height, info.frames]).toEqual([9000, 9000, 1]);
    const out = await processImage(bomb, info, "", 8000 * 8000);
    expect(out).toMatchObject({ kind: "corrupt" });
    expect((out as { detail: string }).detail).toContain("pixel limit");
  });

  test("frames count against the pixel budget: an animation is refused with max_pixels", async () => {
    // no_time_for_that_tiny.gif is 24 frames of 14x25 = 8,400 pixels; each frame fits
    // 60x60, all of them do not fit one 60x60 image's 3,600.
    const gif = readFileSync(imagePath("no_time_for_that_tiny.gif"));
    const media = testClient(MediaService, bed.mesh.url("media"), "service");
    const post = (await media.listBucketPolicies({})).policies.find((p) => p.bucket === "post-images")!;
    try {
      await media.updateBucketPolicy({ policy: { ...post, maxWidth: 60, maxHeight: 60 } });
      const refused = await bed.upload(alice.token, gif, { contentType: "image/gif" });
      expect(refused.status).toBe(400);
      const info = refused.json.details.find((d: any) => d.type === "google.rpc.ErrorInfo").debug;
      expect([info.reason, info.metadata.rule]).toEqual(["BAD_DIMENSIONS", "max_pixels"]);
    } finally {
      await media.updateBucketPolicy({ policy: post });
    }
  });
});

describe("serving", () => {
  let m: any;
  beforeAll(async () => {
    m = (await bed.upload(alice.token, readFileSync(imagePath("grass.png")), { contentType: "image/png" })).json.media;
  });

  test("ETag, immutable caching, 304 and Range", async () => {
    const full = await get(m.variants.thumb.url);
    expect(full.headers.get("cache-control")).toContain("immutable");
    const etag = full.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-f]+"$/);
    expect((await get(m.variants.thumb.url, { "if-none-match": etag })).status).toBe(304);
    const part = await get(m.variants.thumb.url, { range: "bytes=10-19" });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 10-19/${full.body.byteLength}`);
    expect(Buffer.compare(part.body, full.body.subarray(10, 20))).toBe(0);
    const tail = await get(m.variants.thumb.url, { range: "bytes=-5" });
    expect(Buffer.compare(tail.body, full.body.subarray(-5))).toBe(0);
    expect((await get(m.variants.thumb.url, { range: `bytes=${full.body.byteLength}-` })).status).toBe(416);
  });

  test("unknown and deleted ids are 404; only the owner deletes", async () => {
    expect((await get("/media/123456789/thumb")).status).toBe(404);
    const del = (token: string) =>
      fetch(`${bed.edge}/oasis.media.v1.MediaService/DeleteMedia`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ mediaId: m.id }),
      });
    expect((await del(bob.token)).status).toBe(403);
    expect((await get(m.variants.orig.url)).status).toBe(200);
    expect((await del(alice.token)).status).toBe(200);
    expect((await get(m.variants.orig.url)).status).toBe(404);
    expect((await get(m.variants.thumb.url)).status).toBe(404);
    const batch = await testClient(MediaService, bed.mesh.url("media")).batchGetMedia({ mediaIds: [BigInt(m.id)] });
    expect(batch.media).toHaveLength(0);
  });
});
