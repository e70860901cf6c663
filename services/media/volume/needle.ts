/**
 * Needle and index-record byte layouts of the volume store (Haystack: Beaver et al.,
 * "Finding a needle in Haystack: Facebook's photo storage", OSDI 2010, section 3.4).
 * All integers little-endian; needles start at 8-byte-aligned offsets.
 *
 * Needle (header 24 bytes, data, footer 8 bytes, padding to 8):
 *
 *     0   u32  header magic 0x314E534F ("OSN1")
 *     4   u32  cookie (random; a read must present it, so keys cannot be guessed)
 *     8   u64  key
 *     16  u8   flags (bit 0: deleted)
 *     17  u8[3] reserved (0)
 *     20  u32  data size n, bytes
 *     24  n    data
 *     24+n u32 footer magic 0x444E454F ("OEND")
 *     28+n u32 CRC32C of data
 *     32+n     zero padding to a multiple of 8
 *
 * Index record (.idx, 32 bytes), appended after each needle write or delete, so a
 * restart rebuilds the in-memory index from the small .idx file:
 *
 *     0   u64 key, 8 u32 cookie, 12 u32 data size, 16 u64 needle offset,
 *     24  u8 flags (bit 0: deleted), 25 u8[7] reserved
 */
import { crc32c } from "@node-rs/crc32";

export const needleMagic = 0x314e534f;
export const footerMagic = 0x444e454f;
export const headerBytes = 24;
export const footerBytes = 8;
export const indexRecordBytes = 32;
export const flagDeleted = 1;

/** Total on-disk size of a needle holding `dataSize` bytes, padding included. */
export function needleSize(dataSize: number): number {
  return Math.ceil((headerBytes + dataSize + footerBytes) / 8) * 8;
}

/** Serializes a needle. */
export function encodeNeedle(key: bigint, cookie: number, data: Uint8Array, flags = 0): Buffer {
  const buf = Buffer.alloc(needleSize(data.byteLength));
  buf.writeUInt32LE(needleMagic, 0);
  buf.writeUInt32LE(cookie >>> 0, 4);
  buf.writeBigUInt64LE(key, 8);
  buf.writeUInt8(flags, 16);
  buf.writeUInt32LE(data.byteLength, 20);
  buf.set(data, headerBytes);
  const end = headerBytes + data.byteLength;
  buf.writeUInt32LE(footerMagic, end);
  buf.writeUInt32LE(crc32c(Buffer.from(data.buffer, data.byteOffset, data.byteLength)) >>> 0, end + 4);
  return buf;
}

export interface ParsedNeedle {
  readonly key: bigint;
  readonly cookie: number;
  readonly flags: number;
  readonly data: Buffer;
  /** Bytes the needle occupies on disk. */
  readonly size: number;
}

export type NeedleProblem = "short" | "magic" | "footer" | "crc";

/**
 * Parses and checks the needle at the start of `buf`. Returns the problem instead when
 * the bytes are torn (short), not a needle (magic), or corrupt (footer, crc).
 */
export function decodeNeedle(buf: Buffer): ParsedNeedle | NeedleProblem {
  if (buf.byteLength < headerBytes) return "short";
  if (buf.readUInt32LE(0) !== needleMagic) return "magic";
  const size = buf.readUInt32LE(20);
  const total = needleSize(size);
  if (buf.byteLength < total) return "short";
  const end = headerBytes + size;
  if (buf.readUInt32LE(end) !== footerMagic) return "footer";
  const data = buf.subarray(headerBytes, end);
  if ((crc32c(data) >>> 0) !== buf.readUInt32LE(end + 4)) return "crc";
  return { key: buf.readBigUInt64LE(8), cookie: buf.readUInt32LE(4), flags: buf.readUInt8(16), data, size: total };
}

export interface IndexRecord {
  readonly key: bigint;
  readonly cookie: number;
  readonly dataSize: number;
  readonly offset: number;
  readonly flags: number;
}

export function encodeIndexRecord(r: IndexRecord): Buffer {
  const buf = Buffer.alloc(indexRecordBytes);
  buf.writeBigUInt64LE(r.key, 0);
  buf.writeUInt32LE(r.cookie >>> 0, 8);
  buf.writeUInt32LE(r.dataSize, 12);
  buf.writeBigUInt64LE(BigInt(r.offset), 16);
  buf.writeUInt8(r.flags, 24);
  return buf;
}

export function decodeIndexRecord(buf: Buffer, at: number): IndexRecord {
  return {
    key: buf.readBigUInt64LE(at),
    cookie: buf.readUInt32LE(at + 8),
    dataSize: buf.readUInt32LE(at + 12),
    offset: Number(buf.readBigUInt64LE(at + 16)),
    flags: buf.readUInt8(at + 24),
  };
}
