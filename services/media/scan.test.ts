/**
 * The consistency scan on its timer, in a running media app (in-process, so the test
 * can damage the volume store the service runs on): a needle written without a row
 * (an upload that never committed) and a committed media item that lost a needle are
 * both found by a timer-driven scan, reported on /metrics, and the broken media
 * becomes 404 while healthy media still reads back byte-identical.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import type { Media } from "#gen/oasis/media/v1/media_pb.ts";
import { startTestApp, type TestApp } from "#kit/testing/app.ts";
import { imagePath } from "../../demo/data.ts";
import { createMediaApp } from "./app.ts";
import { loadMediaConfig, type MediaConfig } from "./config.ts";
import { randomCookie, randomId, type MediaContext } from "./context.ts";
import { mediaByIds } from "./store.ts";

const dataDir = mkdtempSync(join(tmpdir(), "oasis-media-scan-"));
let svc: TestApp<MediaConfig>;
let ctx: MediaContext;

beforeAll(async () => {
  svc = await startTestApp(
    async (config) => {
      const app = await createMediaApp(config);
      ctx = app.context;
      return app;
    },
    loadMediaConfig,
    { env: { OASIS_MEDIA_DATA_DIR: dataDir, OASIS_MEDIA_SCAN_INTERVAL_MS: "200" } },
  );
});
afterAll(async () => {
  await svc?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** media_scan_removed_total by kind, as /metrics shows it. */
async function removed(): Promise<Record<string, number>> {
  const text = await (await fetch(`${svc.metricsUrl}/metrics`)).text();
  return Object.fromEntries([...text.matchAll(/^media_scan_removed_total\{[^}]*kind="([a-z_]+)"[^}]*\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

async function variants(m: Media): Promise<Record<string, { status: number; body: Buffer }>> {
  const out: Record<string, { status: number; body: Buffer }> = {};
  for (const [name, v] of Object.entries(m.variants)) {
    const res = await fetch(`${svc.url}${v.url}`);
    out[name] = { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  }
  return out;
}

test("the timer-driven scan removes an uncommitted needle and media whose needle is gone, and says so", async () => {
  const media = svc.client(MediaService, 4242n);
  const healthy = (await media.uploadMedia({ bucket: "post-images", data: readFileSync(imagePath("coffee.png")) })).media!;
  const broken = (await media.uploadMedia({ bucket: "post-images", data: readFileSync(imagePath("chelsea.png")) })).media!;
  const healthyBytes = await variants(healthy);
  expect(Object.values(healthyBytes).map((v) => v.status)).toEqual([200, 200, 200]);
  // The scan at start found nothing; later runs found nothing either.
  const before = await removed();
  expect(Object.values(before).reduce((a, b) => a + b, 0)).toBe(0);

  // An upload that wrote its bytes and crashed before its row: a needle nobody points to.
  const orphan = randomId();
  await ctx.volumes.write(orphan, randomCookie(), readFileSync(imagePath("no_time_for_that_tiny.gif")));
  // A committed media item whose orig needle is lost.
  const lost = (await mediaByIds(ctx.rt.db, [broken.id])).get(broken.id)!.variants;
  expect(lost).toHaveLength(3);
  expect(await ctx.volumes.delete(lost.find((v) => v.name === "orig")!.needleKey)).toBe(true);

  // The broken item's two remaining needles become orphans once its row is purged, and
  // a later run takes them too.
  let now: Record<string, number> = {};
  for (let i = 0; i < 100; i++) {
    now = await removed();
    if (now.broken_media === 1 && now.orphan_needle === 3) break;
    await Bun.sleep(100);
  }
  expect(now).toEqual({ orphan_needle: 3, deleted_media_needle: 0, broken_media: 1 });
  expect(ctx.volumes.has(orphan)).toBe(false);
  for (const v of lost) expect(ctx.volumes.has(v.needleKey)).toBe(false);
  expect([...ctx.volumes.entries()]).toHaveLength(3); // the healthy item's variants

  for (const r of Object.values(await variants(broken))) expect(r.status).toBe(404);
  const err = await media.getMedia({ mediaId: broken.id }).catch((e) => ConnectError.from(e));
  expect((err as ConnectError).code).toBe(Code.NotFound);
  const after = await variants(healthy);
  for (const [name, v] of Object.entries(after)) {
    expect(v.status).toBe(200);
    expect(Buffer.compare(v.body, healthyBytes[name]!.body)).toBe(0);
  }
}, 60_000);
