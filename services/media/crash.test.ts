/**
 * Atomic uploads under SIGKILL: 600 uploads of real images while the media process is
 * killed with `kill -9` three times, each time with an upload's needles written and its
 * row not committed. After the restarts: every upload that returned success reads back
 * byte-identical (checksums of what was served before the crashes), every stored media
 * item is complete (no half-visible uploads), each restart's scan removed the needles
 * its crash stranded, and exactly three needles per media item are left.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import { databaseName } from "#kit/config.ts";
import { connectPool, select, type Pool } from "#kit/mysql.ts";
import { testClient } from "#kit/testing/clients.ts";
import { imagePath } from "../../demo/data.ts";
import { startMediaTestbed, type MediaTestbed } from "../../testbeds/media.ts";

let bed: MediaTestbed;
let db: Pool | undefined;
const images = ["no_time_for_that_tiny.gif", "chelsea.png", "coffee.png"].map((n) => readFileSync(imagePath(n)));
const sha = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");
/** Bytes in the media service's volume files. */
const volumeBytes = () =>
  readdirSync(bed.dataDir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".dat"))
    .reduce((n, f) => n + statSync(join(bed.dataDir, f)).size, 0);

beforeAll(async () => {
  bed = await startMediaTestbed({ restart: false });
});
afterAll(async () => {
  await db?.end();
  await bed?.stop();
});

/**
 * Checksums of the three variants; undefined if any is missing (404). Waits out restarts
 * (5xx). A 200 whose body is not the variant's size_bytes throws ("do not serve whole"):
 * a body cut off by a kill must never pass for the image.
 */
async function fetchVariants(m: any): Promise<Record<string, string> | undefined> {
  const out: Record<string, string> = {};
  for (const v of ["thumb", "feed", "orig"]) {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${bed.edge}${m.variants[v].url}`).catch(() => undefined);
      if (res?.status === 200) {
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (bytes.byteLength !== Number(m.variants[v].sizeBytes)) {
          throw new Error(`${m.variants[v].url} served ${bytes.byteLength} of its ${m.variants[v].sizeBytes} bytes: its bytes do not serve whole`);
        }
        out[v] = sha(bytes);
        break;
      }
      if (res?.status === 404 || attempt > 300) return undefined;
      await Bun.sleep(100); // media is restarting
    }
  }
  return out;
}

test("kill -9 during 600 uploads: successes survive byte-identical, nothing half-visible, leftovers scanned away", async () => {
  const user = await bed.user(60);
  const media = testClient(MediaService, bed.mesh.url("media"), BigInt(user.userId));
  const total = 600;
  const succeeded = new Map<string, Record<string, string>>();
  let failed = 0;
  let next = 0;
  let kills = 0;
  const removedByStartScan = async () => {
    const text = await (await fetch(`${bed.mesh.metricsUrl("media")}/metrics`)).text();
    return [...text.matchAll(/^media_scan_removed_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  };
  // Each kill lands where an upload's needles are written but its row cannot commit:
  // the test holds a write lock on the media table, waits until a volume file grows,
  // then kills media and releases the lock (the server rolls back the dead connection).
  // Media's own database: a connection of it holds the lock; the checks below read it.
  const mediaDb = connectPool(process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306", databaseName("media", bed.mesh.namespace), 2);
  db = mediaDb; // ended in afterAll, whatever fails here
  const strandedPerKill: number[] = [];
  const killer = (async () => {
    const conn = await mediaDb.getConnection();
    try {
      for (const at of [100, 250, 400]) {
        while (next < at) await Bun.sleep(20);
        await conn.query("LOCK TABLES media WRITE");
        const size = volumeBytes();
        while (volumeBytes() === size) await Bun.sleep(5);
        bed.mesh.supervisor.kill9("media");
        kills++;
        await conn.query("UNLOCK TABLES");
        await bed.mesh.supervisor.stop("media");
        await bed.mesh.supervisor.restart("media");
        // The counter is per process: this is what the restarted one's start scan removed.
        strandedPerKill.push(await removedByStartScan());
      }
    } finally {
      conn.release();
    }
  })();
  let retries = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (next < total) {
        const i = next++;
        // As an app would: retry with the same request id while the service is down.
        for (let attempt = 0; ; attempt++) {
          try {
            const res = await media.uploadMedia({ bucket: "post-images", data: images[i % images.length]!, requestId: `crash-${i}` });
            const m = res.media!;
            const variants = await fetchVariants({ variants: Object.fromEntries(Object.entries(m.variants).map(([k, v]) => [k, { url: v.url, sizeBytes: v.sizeBytes }])) });
            if (!variants) throw new Error(`upload ${i} returned ${m.id} but its bytes do not serve`);
            succeeded.set(String(m.id), variants);
            break;
          } catch (err) {
            if (String(err).includes("do not serve")) throw err; // also a cut-off body ("do not serve whole")
            if (attempt >= 200) {
              failed++;
              break;
            }
            retries++;
            await Bun.sleep(100);
          }
        }
      }
    }),
  );
  await killer;
  expect(kills).toBe(3);
  // Every kill stranded needles, and the scan at restart removed them.
  for (const n of strandedPerKill) expect(n).toBeGreaterThan(0);
  const scannedAway = strandedPerKill.reduce((a, b) => a + b, 0);
  expect(succeeded.size + failed).toBe(total);
  expect(succeeded.size).toBeGreaterThan(total * 0.95);

  // A clean restart runs the consistency scan.
  await bed.mesh.supervisor.stop("media");
  await bed.mesh.supervisor.restart("media");

  for (const [id, before] of succeeded) {
    const m = (await testClient(MediaService, bed.mesh.url("media")).getMedia({ mediaId: BigInt(id) })).media!;
    const after = await fetchVariants({ variants: Object.fromEntries(Object.entries(m.variants).map(([k, v]) => [k, { url: v.url, sizeBytes: v.sizeBytes }])) });
    expect(after).toEqual(before);
  }
  const rows = await select<{ id: string }>(mediaDb, "SELECT id FROM media WHERE deleted_at IS NULL");
  // Rows beyond the acknowledged successes committed just before a crash ate the answer;
  // they must be complete too.
  expect(rows.length).toBeGreaterThanOrEqual(succeeded.size);
  expect(rows.length - succeeded.size).toBeLessThanOrEqual(failed);
  const batch = await testClient(MediaService, bed.mesh.url("media")).batchGetMedia({ mediaIds: rows.map((r) => BigInt(r.id)) });
  for (const m of batch.media) {
    const v = await fetchVariants({ variants: Object.fromEntries(Object.entries(m.variants).map(([k, x]) => [k, { url: x.url, sizeBytes: x.sizeBytes }])) });
    expect(v).toBeDefined();
  }
  const metrics = await (await fetch(`${bed.mesh.metricsUrl("media")}/metrics`)).text();
  const needles = Number(/^media_volume_needles\S* (\d+)/m.exec(metrics)?.[1]);
  expect(needles).toBe(rows.length * 3);
  console.log(`media crash: ${succeeded.size} succeeded, ${failed} failed (${retries} retried attempts), ${rows.length} stored, ${kills} kills, ${scannedAway} stranded needles removed by the restart scans (${strandedPerKill.join(", ")}), ${needles} needles after scan`);
}, 600_000);
