/**
 * Compaction in the running service: with small volumes and a short compaction
 * interval, deleting most uploads makes the service's timer rewrite the sealed volumes
 * (files shrink by exactly the bytes the metric reports), while what is left reads back
 * byte-identical, before and after a restart, and deleted media stays 404.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { metricValue } from "../../bench/lib/metrics.ts";
import { imagePath } from "../../demo/data.ts";
import { startMediaTestbed, type MediaTestbed } from "../../testbeds/media.ts";

let bed: MediaTestbed;
const images = ["chelsea.png", "coffee.png", "rocket.jpg", "brick.png", "grass.png"].map((n) => readFileSync(imagePath(n)));

beforeAll(async () => {
  bed = await startMediaTestbed({
    env: { OASIS_MEDIA_MAX_VOLUME_BYTES: String(512 * 1024), OASIS_MEDIA_COMPACT_INTERVAL_MS: "200", OASIS_MEDIA_COMPACT_MIN_DELETED_RATIO: "0.5" },
  });
});
afterAll(() => bed?.stop());

/** Size of every volume file, by name. */
function volumeSizes(): Map<string, number> {
  return new Map(readdirSync(bed.dataDir).filter((f) => /^\d+\.dat$/.test(f)).map((f) => [f, statSync(join(bed.dataDir, f)).size]));
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

async function download(m: any): Promise<Record<string, { status: number; body: Buffer }>> {
  const out: Record<string, { status: number; body: Buffer }> = {};
  for (const v of ["thumb", "feed", "orig"]) {
    const res = await fetch(`${bed.edge}${m.variants[v].url}`);
    out[v] = { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  }
  return out;
}

test("the compaction timer shrinks sealed volumes of deleted media; the rest reads back byte-identical", async () => {
  const alice = await bed.user(70);
  const uploaded: Array<{ media: any; bytes: Record<string, Buffer> }> = [];
  for (let i = 0; i < 10; i++) {
    const up = await bed.upload(alice.token, images[i % images.length]!, { contentType: "application/octet-stream" });
    expect(up.status).toBe(200);
    const got = await download(up.json.media);
    uploaded.push({ media: up.json.media, bytes: Object.fromEntries(Object.entries(got).map(([k, v]) => [k, v.body])) });
  }
  const before = volumeSizes();
  expect(before.size).toBeGreaterThan(2); // several sealed volumes
  expect(await metricValue(bed.mesh.metricsUrl("media"), "media_compaction_reclaimed_bytes_total")).toBe(0);

  const kept = [uploaded[3]!, uploaded[8]!];
  const deleted = uploaded.filter((u) => !kept.includes(u));
  for (const u of deleted) {
    const res = await fetch(`${bed.edge}/oasis.media.v1.MediaService/DeleteMedia`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
      body: JSON.stringify({ mediaId: u.media.id }),
    });
    expect(res.status).toBe(200);
  }

  // Wait until the files shrank by what the service says it reclaimed and most of what
  // was deleted is gone from disk (only the active volume keeps its dead needles). The
  // timer compacts one volume per round, so this takes several rounds.
  const deletedBytes = deleted.reduce((n, u) => n + Object.values(u.bytes).reduce((a, b) => a + b.byteLength, 0), 0);
  let reclaimed = 0;
  let after = before;
  for (let i = 0; i < 200; i++) {
    reclaimed = await metricValue(bed.mesh.metricsUrl("media"), "media_compaction_reclaimed_bytes_total");
    after = volumeSizes();
    const settled = sum(before) - sum(after) === reclaimed && (await metricValue(bed.mesh.metricsUrl("media"), "media_compaction_reclaimed_bytes_total")) === reclaimed;
    if (reclaimed > deletedBytes / 2 && settled) break;
    await Bun.sleep(100);
  }
  expect(reclaimed).toBeGreaterThan(deletedBytes / 2);
  expect(sum(before) - sum(after)).toBe(reclaimed);
  expect(await metricValue(bed.mesh.metricsUrl("media"), "media_compactions_total")).toBeGreaterThan(0);
  const shrank = [...after].filter(([f, size]) => size < before.get(f)!);
  expect(shrank.length).toBeGreaterThan(0);

  const check = async () => {
    for (const u of kept) {
      const got = await download(u.media);
      for (const v of ["thumb", "feed", "orig"]) {
        expect(got[v]!.status).toBe(200);
        expect(Buffer.compare(got[v]!.body, u.bytes[v]!)).toBe(0);
      }
    }
    for (const u of deleted) for (const r of Object.values(await download(u.media))) expect(r.status).toBe(404);
  };
  await check();
  // The swapped-in index and volume files are what a restart reads.
  await bed.mesh.supervisor.stop("media");
  await bed.mesh.supervisor.restart("media");
  await check();
}, 120_000);
