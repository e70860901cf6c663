/**
 * The needle store on real images: round trips, cookies, deletes across restarts,
 * crash recovery (torn needle, lost index records), checksum corruption, sealing full
 * volumes, compaction under concurrent reads and deletes (and a crash inside it), and one
 * pread per read (counted by the kernel).
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { imagePath, photoNames } from "../../../demo/data.ts";
import { needleSize } from "./needle.ts";
import { CorruptNeedleError, VolumeStore } from "./volume-store.ts";

const images = [...photoNames, "no_time_for_that_tiny.gif"].map((n) => readFileSync(imagePath(n)));
const dirs: string[] = [];
const stores: VolumeStore[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "oasis-volumes-"));
  dirs.push(d);
  return d;
}

async function openStore(dir: string, maxVolumeBytes?: number): Promise<VolumeStore> {
  const s = await VolumeStore.open({ dir, maxVolumeBytes });
  stores.push(s);
  return s;
}

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test("every real image round-trips byte for byte; a wrong cookie reads as absent", async () => {
  const s = await openStore(tempDir());
  await Promise.all(images.map((img, i) => s.write(BigInt(1000 + i), 7000 + i, img)));
  for (const [i, img] of images.entries()) {
    expect(Buffer.compare((await s.read(BigInt(1000 + i), 7000 + i))!, img)).toBe(0);
  }
  expect(await s.read(1000n, 1)).toBeUndefined();
  expect(await s.read(999n, 7000)).toBeUndefined();
  // Concurrent writers shared fsyncs (group commit).
  expect(s.syncs).toBeLessThan(images.length);
});

test("deletes and contents survive a restart; the index is rebuilt from the .idx file", async () => {
  const dir = tempDir();
  const s = await openStore(dir);
  for (const [i, img] of images.entries()) await s.write(BigInt(i + 1), 42, img);
  expect(await s.delete(3n)).toBe(true);
  expect(await s.delete(3n)).toBe(false);
  await s.close();
  stores.pop();
  const again = await openStore(dir);
  expect(again.recovery.reindexed).toBe(0);
  expect(await again.read(3n, 42)).toBeUndefined();
  expect(Buffer.compare((await again.read(5n, 42))!, images[4]!)).toBe(0);
  expect(again.stats()[0]).toMatchObject({ liveNeedles: images.length - 1, deletedNeedles: 1 });
});

test("crash recovery: a torn last needle is cut off, lost index records are rebuilt", async () => {
  const dir = tempDir();
  const s = await openStore(dir);
  for (const [i, img] of images.slice(0, 4).entries()) await s.write(BigInt(i + 1), 9, img);
  await s.close();
  stores.pop();
  const dat = join(dir, "1.dat");
  const idx = join(dir, "1.idx");
  const fullSize = statSync(dat).size;
  // Simulate: the 4th needle was only half written, and the last two index records never made it.
  truncateSync(dat, fullSize - Math.floor(needleSize(images[3]!.byteLength) / 2));
  truncateSync(idx, statSync(idx).size - 2 * 32 + 7); // records 3 and 4 lost, record 2 intact, 7 bytes of a torn record 3
  const r = await openStore(dir);
  expect(r.recovery.reindexed).toBe(1); // needle 3 was complete in .dat, missing from .idx
  expect(r.recovery.truncatedBytes).toBeGreaterThan(0);
  for (const [i, img] of images.slice(0, 3).entries()) expect(Buffer.compare((await r.read(BigInt(i + 1), 9))!, img)).toBe(0);
  expect(await r.read(4n, 9)).toBeUndefined();
  // The store keeps working after recovery.
  await r.write(4n, 9, images[3]!);
  expect(Buffer.compare((await r.read(4n, 9))!, images[3]!)).toBe(0);
});

test("a flipped byte on disk is detected by CRC32C, never returned", async () => {
  const dir = tempDir();
  const s = await openStore(dir);
  await s.write(77n, 1, images[0]!);
  const fd = openSync(join(dir, "1.dat"), "r+");
  writeSync(fd, Buffer.from([0xff]), 0, 1, 8 + 24 + 100); // a byte inside the data
  closeSync(fd);
  const err = await s.read(77n, 1).catch((e) => e);
  expect(err).toBeInstanceOf(CorruptNeedleError);
  expect((err as CorruptNeedleError).problem).toBe("crc");
});

test("a full volume is sealed and writes continue in the next one", async () => {
  const s = await openStore(tempDir(), 600 * 1024);
  for (const [i, img] of images.entries()) await s.write(BigInt(i + 1), 5, img);
  const stats = s.stats();
  expect(stats.length).toBeGreaterThan(1);
  expect(stats.slice(0, -1).every((v) => v.readOnly && v.bytes <= 600 * 1024 + needleSize(1e6))).toBe(true);
  expect(stats.at(-1)!.readOnly).toBe(false);
  for (const [i, img] of images.entries()) expect(Buffer.compare((await s.read(BigInt(i + 1), 5))!, img)).toBe(0);
});

test("compaction reclaims deleted space while concurrent reads keep working", async () => {
  const dir = tempDir();
  const s = await openStore(dir);
  for (let round = 0; round < 3; round++) {
    for (const [i, img] of images.entries()) await s.write(BigInt(round * 100 + i), 3, img);
  }
  for (const [i] of images.entries()) await s.delete(BigInt(100 + i));
  const before = statSync(join(dir, "1.dat")).size;
  let reading = true;
  let reads = 0;
  const readers = (async () => {
    while (reading) {
      for (const [i, img] of images.entries()) {
        const got = await s.read(BigInt(200 + i), 3);
        expect(Buffer.compare(got!, img)).toBe(0);
        reads++;
      }
    }
  })();
  const r = await s.compact(1);
  reading = false;
  await readers;
  expect(reads).toBeGreaterThan(0);
  const freed = images.reduce((n, img) => n + needleSize(img.byteLength), 0);
  expect(r.reclaimedBytes).toBe(freed);
  expect(statSync(join(dir, "1.dat")).size).toBe(before - freed);
  for (const round of [0, 2]) for (const [i, img] of images.entries()) expect(Buffer.compare((await s.read(BigInt(round * 100 + i), 3))!, img)).toBe(0);
  await s.close();
  stores.pop();
  const again = await openStore(dir);
  expect(await again.read(100n, 3)).toBeUndefined();
  expect(Buffer.compare((await again.read(205n, 3))!, images[5]!)).toBe(0);
});

test("a delete while a volume is being compacted stays deleted after a restart", async () => {
  const dir = tempDir();
  const s = await openStore(dir);
  for (const [i, img] of images.entries()) await s.write(BigInt(i + 1), 4, img);
  await s.delete(1n);
  // Deletes of every other needle race the copy (they land on the old file or the new one).
  const compacting = s.compact(1);
  await Promise.all([2n, 4n, 6n].map((k) => s.delete(k)));
  await compacting;
  for (const k of [1n, 2n, 4n, 6n]) expect(await s.read(k, 4)).toBeUndefined();
  await s.close();
  stores.pop();
  const again = await openStore(dir);
  for (const k of [1n, 2n, 4n, 6n]) expect(await again.read(k, 4)).toBeUndefined();
  for (const k of [3n, 5n, 7n]) expect(Buffer.compare((await again.read(k, 4))!, images[Number(k) - 1]!)).toBe(0);
  expect(again.stats().reduce((n, v) => n + v.liveNeedles, 0)).toBe(images.length - 4);
});

test("a crash between compaction's renames leaves a volume that recovers by scanning", async () => {
  const dir = tempDir();
  const s = await openStore(dir);
  for (const [i, img] of images.entries()) await s.write(BigInt(i + 1), 8, img);
  for (const k of [1n, 3n]) await s.delete(k);
  await s.compact(1);
  await s.close();
  stores.pop();
  // The state after "new .dat renamed in" and before "new .idx renamed in": no index.
  rmSync(join(dir, "1.idx"));
  const again = await openStore(dir);
  expect(again.recovery.reindexed).toBe(images.length - 2);
  for (const k of [1n, 3n]) expect(await again.read(k, 8)).toBeUndefined();
  for (const [i, img] of images.entries()) if (i !== 0 && i !== 2) expect(Buffer.compare((await again.read(BigInt(i + 1), 8))!, img)).toBe(0);
});

/** read syscalls made so far by every thread of this process, as the kernel counts them. */
function readSyscalls(): number {
  return Number(/^syscr: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"))![1]);
}

test("a read is exactly one positioned read", async () => {
  const s = await openStore(tempDir());
  for (const [i, img] of images.entries()) await s.write(BigInt(i + 1), 11, img);
  const before = s.reads;
  for (const [i] of images.entries()) await s.read(BigInt(i + 1), 11);
  expect(s.reads - before).toBe(images.length);
  // Misses (unknown key, wrong cookie) cost no disk read at all.
  await s.read(999n, 11);
  await s.read(1n, 12);
  expect(s.reads - before).toBe(images.length);
  // The kernel's count, not ours: reading /proc/self/io costs a fixed number of read
  // syscalls (measured first), and the runtime may add a stray read of its own, so the
  // bound is N..1.5N; a store that read a header and then the data would show ~2N.
  const rounds = 5;
  const overhead = -readSyscalls() + readSyscalls();
  const sys0 = readSyscalls();
  for (let r = 0; r < rounds; r++) for (const [i] of images.entries()) await s.read(BigInt(i + 1), 11);
  const syscalls = readSyscalls() - sys0 - overhead;
  expect(syscalls).toBeGreaterThanOrEqual(rounds * images.length);
  expect(syscalls).toBeLessThan(rounds * images.length * 1.5);
});
