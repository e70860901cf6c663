/**
 * A Haystack-style needle store (Beaver et al., OSDI 2010): many images appended into a
 * few large volume files, with an in-memory index key -> (volume, offset, size, cookie),
 * so reading an image costs exactly one positioned read (pread) and no directory or
 * inode lookups. Layouts: needle.ts.
 *
 * - Writes are serialized per store and group-committed: whatever queued while the
 *   previous batch was being written goes out in one batch, followed by one fdatasync
 *   of the volume file, so concurrent uploads share the cost of durability. A write
 *   resolves only after its bytes are durable. The index record is appended after the
 *   needle and not synced: recovery rebuilds missing records from the volume tail.
 * - Recovery at open: the .idx file is replayed, then the .dat is scanned from the end
 *   of the last indexed needle; complete needles found there are indexed, and a torn
 *   needle at the tail (crash mid-write) is cut off.
 * - A volume is sealed read-only when the next needle would pass `maxVolumeBytes`; the
 *   store then appends to a new volume.
 * - Deletes flip the needle's flag byte in place and append a delete record; space is
 *   reclaimed by `compact`, which copies live needles into a new file and swaps it in
 *   atomically (rename) while reads continue on the old file until the swap.
 * - Every read checks the cookie (a wrong one reads as absent) and the CRC32C (a
 *   mismatch throws CorruptNeedleError: bad bytes are never returned).
 */
import { mkdirSync, readdirSync } from "node:fs";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import {
  decodeIndexRecord,
  decodeNeedle,
  encodeIndexRecord,
  encodeNeedle,
  flagDeleted,
  headerBytes,
  indexRecordBytes,
  needleSize,
} from "./needle.ts";

/** The volume file starts with this 8-byte superblock: magic "OVOL" + u32 volume id. */
const superblockBytes = 8;
const volumeMagic = 0x4c4f564f;

export class CorruptNeedleError extends Error {
  constructor(
    readonly key: bigint,
    readonly volumeId: number,
    readonly problem: string,
  ) {
    super(`needle ${key} in volume ${volumeId} is corrupt (${problem})`);
  }
}

interface Entry {
  readonly volume: Volume;
  /** The handle the offset refers to (compaction swaps both together). */
  readonly handle: FileHandle;
  readonly offset: number;
  readonly dataSize: number;
  readonly cookie: number;
}

export interface VolumeStats {
  readonly volumeId: number;
  /** Size of the volume file (superblock, live and dead needles). */
  readonly bytes: number;
  readonly liveNeedles: number;
  /** On-disk bytes of the live needles. */
  readonly liveBytes: number;
  /** On-disk bytes of deleted or overwritten needles: what compaction frees. */
  readonly deadBytes: number;
  readonly deletedNeedles: number;
  readonly readOnly: boolean;
}

/** One .dat/.idx pair. */
class Volume {
  deleted = 0;
  readOnly = false;

  constructor(
    readonly id: number,
    readonly datPath: string,
    readonly idxPath: string,
    public dat: FileHandle,
    public idx: FileHandle,
    /** End of the last needle: where the next one goes. */
    public end: number,
    public idxEnd: number,
  ) {}
}

export interface VolumeStoreOptions {
  /** Directory holding `<id>.dat` / `<id>.idx`. Created if missing. */
  readonly dir: string;
  /** A volume is sealed when the next needle would pass this size. Default 1 GiB. */
  readonly maxVolumeBytes?: number;
}

interface PendingWrite {
  readonly key: bigint;
  readonly cookie: number;
  readonly data: Uint8Array;
  resolve(): void;
  reject(err: unknown): void;
}

export interface RecoveryReport {
  readonly volumes: number;
  readonly needles: number;
  /** Needles found in a volume tail that the index had not recorded. */
  readonly reindexed: number;
  /** Bytes cut from volume tails (torn writes). */
  readonly truncatedBytes: number;
}

export class VolumeStore {
  private readonly index = new Map<bigint, Entry>();
  private readonly volumes = new Map<number, Volume>();
  private active!: Volume;
  private queue: PendingWrite[] = [];
  private flushing: Promise<void> | undefined;
  /** pread calls made by `read` (for measuring disk reads per GET). */
  reads = 0;
  /** fdatasync calls made by writes (for measuring group commit). */
  syncs = 0;
  recovery: RecoveryReport = { volumes: 0, needles: 0, reindexed: 0, truncatedBytes: 0 };

  private constructor(
    private readonly dir: string,
    private readonly maxVolumeBytes: number,
  ) {}

  /** Opens (and recovers) every volume in `dir`, creating the first if there is none. */
  static async open(opts: VolumeStoreOptions): Promise<VolumeStore> {
    mkdirSync(opts.dir, { recursive: true });
    const store = new VolumeStore(opts.dir, opts.maxVolumeBytes ?? 1024 ** 3);
    const ids = readdirSync(opts.dir)
      .map((f) => /^(\d+)\.dat$/.exec(f)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    let reindexed = 0;
    let truncatedBytes = 0;
    for (const id of ids) {
      const r = await store.openVolume(id);
      reindexed += r.reindexed;
      truncatedBytes += r.truncatedBytes;
    }
    const last = ids.length ? store.volumes.get(ids.at(-1)!)! : await store.createVolume(1);
    // Earlier volumes are sealed; only the newest takes writes.
    for (const v of store.volumes.values()) v.readOnly = v !== last;
    store.active = last;
    store.recovery = { volumes: store.volumes.size, needles: store.index.size, reindexed, truncatedBytes };
    return store;
  }

  private paths(id: number): { dat: string; idx: string } {
    return { dat: join(this.dir, `${id}.dat`), idx: join(this.dir, `${id}.idx`) };
  }

  private async createVolume(id: number): Promise<Volume> {
    const p = this.paths(id);
    const dat = await open(p.dat, "w+");
    const sb = Buffer.alloc(superblockBytes);
    sb.writeUInt32LE(volumeMagic, 0);
    sb.writeUInt32LE(id, 4);
    await dat.write(sb, 0, superblockBytes, 0);
    await dat.sync();
    const idx = await open(p.idx, "w+");
    const v = new Volume(id, p.dat, p.idx, dat, idx, superblockBytes, 0);
    this.volumes.set(id, v);
    return v;
  }

  private put(key: bigint, entry: Entry): void {
    const old = this.index.get(key);
    if (old) old.volume.deleted++;
    this.index.set(key, entry);
  }

  /** Replays the index, then scans and repairs the volume tail. */
  private async openVolume(id: number): Promise<{ reindexed: number; truncatedBytes: number }> {
    const p = this.paths(id);
    const dat = await open(p.dat, "r+");
    const idx = await open(p.idx, "a+").then(async (h) => {
      await h.close();
      return open(p.idx, "r+");
    });
    const datSize = (await dat.stat()).size;
    const idxSize = (await idx.stat()).size;
    const v = new Volume(id, p.dat, p.idx, dat, idx, superblockBytes, 0);
    this.volumes.set(id, v);
    // 1) Replay complete index records (a torn last record is dropped).
    const whole = idxSize - (idxSize % indexRecordBytes);
    const idxBuf = Buffer.alloc(whole);
    if (whole) await idx.read(idxBuf, 0, whole, 0);
    let indexedEnd = superblockBytes;
    for (let at = 0; at < whole; at += indexRecordBytes) {
      const r = decodeIndexRecord(idxBuf, at);
      const end = r.offset + needleSize(r.dataSize);
      if (end > datSize) continue; // points past the volume: never made durable
      if (r.flags & flagDeleted) {
        const e = this.index.get(r.key);
        if (e && e.volume === v && e.offset === r.offset) {
          this.index.delete(r.key);
          v.deleted++;
        }
      } else {
        this.put(r.key, { volume: v, handle: dat, offset: r.offset, dataSize: r.dataSize, cookie: r.cookie });
      }
      indexedEnd = Math.max(indexedEnd, end);
    }
    if (whole !== idxSize) await idx.truncate(whole);
    v.idxEnd = whole;
    // 2) Scan the volume from the end of the last indexed needle.
    let reindexed = 0;
    let at = indexedEnd;
    const chunk = Buffer.alloc(1024 * 1024);
    while (at < datSize) {
      const head = Buffer.alloc(headerBytes);
      const { bytesRead } = await dat.read(head, 0, headerBytes, at);
      if (bytesRead < headerBytes) break;
      const size = needleSize(head.readUInt32LE(20));
      const buf = size <= chunk.byteLength ? chunk.subarray(0, size) : Buffer.alloc(size);
      const got = (await dat.read(buf, 0, size, at)).bytesRead;
      const n = decodeNeedle(buf.subarray(0, got));
      if (typeof n === "string") break; // torn or garbage: everything from here is cut
      if (n.flags & flagDeleted) {
        const e = this.index.get(n.key);
        if (e && e.volume === v && e.offset === at) this.index.delete(n.key);
        v.deleted++;
      } else {
        this.put(n.key, { volume: v, handle: dat, offset: at, dataSize: n.data.byteLength, cookie: n.cookie });
      }
      const rec = encodeIndexRecord({ key: n.key, cookie: n.cookie, dataSize: n.data.byteLength, offset: at, flags: n.flags });
      await idx.write(rec, 0, rec.byteLength, v.idxEnd);
      v.idxEnd += rec.byteLength;
      reindexed++;
      at += size;
    }
    const truncatedBytes = datSize - at;
    if (truncatedBytes > 0) {
      await dat.truncate(at);
      await dat.sync();
    }
    v.end = at;
    return { reindexed, truncatedBytes };
  }

  /** Stores `data` under `key` with `cookie`; resolves when it is durable. */
  write(key: bigint, cookie: number, data: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ key, cookie, data, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /** Writes batches until the queue is empty: needles, one fdatasync, index records. */
  private async flush(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      try {
        const placed: Array<{ w: PendingWrite; volume: Volume; offset: number; bytes: number }> = [];
        const touched = new Set<Volume>();
        for (const w of batch) {
          const bytes = encodeNeedle(w.key, w.cookie, w.data);
          if (this.active.end + bytes.byteLength > this.maxVolumeBytes && this.active.end > superblockBytes) {
            this.active.readOnly = true;
            this.active = await this.createVolume(this.active.id + 1);
          }
          const v = this.active;
          await v.dat.write(bytes, 0, bytes.byteLength, v.end);
          placed.push({ w, volume: v, offset: v.end, bytes: bytes.byteLength });
          v.end += bytes.byteLength;
          touched.add(v);
        }
        for (const v of touched) {
          await v.dat.datasync();
          this.syncs++;
        }
        for (const p of placed) {
          const rec = encodeIndexRecord({ key: p.w.key, cookie: p.w.cookie, dataSize: p.w.data.byteLength, offset: p.offset, flags: 0 });
          // Reserve the slot before awaiting: a concurrent delete appends to the same file.
          const idxAt = p.volume.idxEnd;
          p.volume.idxEnd += rec.byteLength;
          await p.volume.idx.write(rec, 0, rec.byteLength, idxAt);
          this.put(p.w.key, { volume: p.volume, handle: p.volume.dat, offset: p.offset, dataSize: p.w.data.byteLength, cookie: p.w.cookie });
          p.w.resolve();
        }
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.flushing = undefined;
  }

  /**
   * The bytes under `key`, or undefined when absent, deleted or the cookie is wrong.
   * One pread of the whole needle. Throws CorruptNeedleError on a checksum mismatch.
   */
  async read(key: bigint, cookie: number): Promise<Buffer | undefined> {
    const e = this.index.get(key);
    if (!e || e.cookie !== cookie >>> 0) return undefined;
    const size = needleSize(e.dataSize);
    const buf = Buffer.allocUnsafe(size);
    this.reads++;
    const { bytesRead } = await e.handle.read(buf, 0, size, e.offset);
    const n = decodeNeedle(buf.subarray(0, bytesRead));
    if (typeof n === "string") throw new CorruptNeedleError(key, e.volume.id, n);
    if (n.key !== key || n.cookie !== e.cookie) throw new CorruptNeedleError(key, e.volume.id, "key");
    if (n.flags & flagDeleted) return undefined;
    return n.data;
  }

  /** True if `key` is stored (and not deleted). */
  has(key: bigint): boolean {
    return this.index.has(key);
  }

  /** Marks a needle deleted (flag byte in place + index record); false if it was absent. */
  async delete(key: bigint): Promise<boolean> {
    const e = this.index.get(key);
    if (!e) return false;
    this.index.delete(key);
    await this.markDeleted(key, e);
    return true;
  }

  /** Flips the needle's flag byte on disk and appends its delete record. */
  private async markDeleted(key: bigint, e: Entry): Promise<void> {
    e.volume.deleted++;
    await e.handle.write(Buffer.from([flagDeleted]), 0, 1, e.offset + 16);
    const rec = encodeIndexRecord({ key, cookie: e.cookie, dataSize: e.dataSize, offset: e.offset, flags: flagDeleted });
    const idxAt = e.volume.idxEnd;
    e.volume.idxEnd += rec.byteLength;
    await e.volume.idx.write(rec, 0, rec.byteLength, idxAt);
  }

  /** Every live needle (for orphan scans). */
  *entries(): Iterable<{ key: bigint; cookie: number; dataSize: number; volumeId: number }> {
    for (const [key, e] of this.index) yield { key, cookie: e.cookie, dataSize: e.dataSize, volumeId: e.volume.id };
  }

  stats(): VolumeStats[] {
    const live = new Map<number, number>();
    const liveBytes = new Map<number, number>();
    for (const e of this.index.values()) {
      live.set(e.volume.id, (live.get(e.volume.id) ?? 0) + 1);
      liveBytes.set(e.volume.id, (liveBytes.get(e.volume.id) ?? 0) + needleSize(e.dataSize));
    }
    return [...this.volumes.values()].map((v) => ({
      volumeId: v.id,
      bytes: v.end,
      liveNeedles: live.get(v.id) ?? 0,
      liveBytes: liveBytes.get(v.id) ?? 0,
      deadBytes: v.end - superblockBytes - (liveBytes.get(v.id) ?? 0),
      deletedNeedles: v.deleted,
      readOnly: v.readOnly,
    }));
  }

  /**
   * Rewrites a volume without its deleted needles and swaps it in atomically. The
   * active volume is sealed first (new writes go to a new volume). Returns bytes freed.
   */
  async compact(volumeId: number): Promise<{ reclaimedBytes: number; liveNeedles: number }> {
    const v = this.volumes.get(volumeId);
    if (!v) throw new Error(`no volume ${volumeId}`);
    if (v === this.active) {
      await this.flushing;
      v.readOnly = true;
      this.active = await this.createVolume(Math.max(...this.volumes.keys()) + 1);
    }
    const live = [...this.index].filter(([, e]) => e.volume === v);
    const tmpDat = `${v.datPath}.compact`;
    const tmpIdx = `${v.idxPath}.compact`;
    const nd = await open(tmpDat, "w+");
    const ni = await open(tmpIdx, "w+");
    const sb = Buffer.alloc(superblockBytes);
    sb.writeUInt32LE(volumeMagic, 0);
    sb.writeUInt32LE(v.id, 4);
    await nd.write(sb, 0, superblockBytes, 0);
    let end = superblockBytes;
    let idxEnd = 0;
    const moved: Array<[bigint, Entry]> = [];
    for (const [key, e] of live) {
      const size = needleSize(e.dataSize);
      const buf = Buffer.alloc(size);
      await e.handle.read(buf, 0, size, e.offset);
      await nd.write(buf, 0, size, end);
      const rec = encodeIndexRecord({ key, cookie: e.cookie, dataSize: e.dataSize, offset: end, flags: 0 });
      await ni.write(rec, 0, rec.byteLength, idxEnd);
      moved.push([key, { volume: v, handle: nd, offset: end, dataSize: e.dataSize, cookie: e.cookie }]);
      end += size;
      idxEnd += rec.byteLength;
    }
    await nd.sync();
    await ni.sync();
    // The old .idx goes first: a crash between the renames must never pair an index
    // with the other file's offsets. A volume without .idx is rebuilt by scanning it.
    await unlink(v.idxPath);
    await rename(tmpDat, v.datPath);
    await rename(tmpIdx, v.idxPath);
    const oldDat = v.dat;
    const oldIdx = v.idx;
    const reclaimedBytes = v.end - end;
    v.dat = nd;
    v.idx = ni;
    v.end = end;
    v.idxEnd = idxEnd;
    v.deleted = 0;
    for (const [key, entry] of moved) {
      const current = this.index.get(key);
      if (current?.volume === v) this.index.set(key, entry);
      // Deleted while it was being copied: the delete flipped the old file's flag, so
      // flip it in the new one too, or a restart would bring the needle back.
      else await this.markDeleted(key, entry);
    }
    // Reads that looked up an old entry hold the old handle: close it a little later.
    setTimeout(() => void Promise.all([oldDat.close(), oldIdx.close()]).catch(() => {}), 5_000).unref?.();
    return { reclaimedBytes, liveNeedles: moved.length };
  }

  async close(): Promise<void> {
    await this.flushing;
    for (const v of this.volumes.values()) {
      await v.dat.close().catch(() => {});
      await v.idx.close().catch(() => {});
    }
  }
}
