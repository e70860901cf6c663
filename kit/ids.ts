/**
 * 64-bit time-ordered ids, snowflake layout (Twitter, 2010): 41 bits of milliseconds
 * since the Oasis epoch (2026-01-01T00:00:00Z, good for ~69 years), 10 bits of worker
 * id (0-1023, from config so replicas never collide), 12 bits of sequence (4096 ids
 * per ms per worker). Ids sort by creation time, which keyset pagination and feeds rely
 * on. They are bigint in code and strings in JSON (proto3 JSON maps int64 to strings).
 */
export const oasisEpochMs = 1_767_225_600_000; // 2026-01-01T00:00:00Z

const workerBits = 10n;
const sequenceBits = 12n;
const maxSequence = (1n << sequenceBits) - 1n;

export interface IdGenerator {
  /** A new id, strictly greater than every id this generator returned before. */
  next(): bigint;
}

export function createIdGenerator(workerId: number, now: () => number = Date.now): IdGenerator {
  if (!Number.isInteger(workerId) || workerId < 0 || workerId > 1023) {
    throw new Error(`worker id must be 0-1023, got ${workerId}`);
  }
  const worker = BigInt(workerId);
  let lastMs = -1;
  let sequence = 0n;
  return {
    next() {
      let ms = now();
      // A clock that steps back (NTP) must not produce duplicates: keep using the last
      // millisecond and its sequence until the clock catches up.
      if (ms < lastMs) ms = lastMs;
      if (ms === lastMs) {
        sequence = (sequence + 1n) & maxSequence;
        if (sequence === 0n) {
          // 4096 ids in one ms: borrow the next millisecond rather than spin.
          ms = lastMs + 1;
        }
      } else {
        sequence = 0n;
      }
      lastMs = ms;
      return (BigInt(ms - oasisEpochMs) << (workerBits + sequenceBits)) | (worker << sequenceBits) | sequence;
    },
  };
}

/** Milliseconds since the Unix epoch at which an id was made. */
export function idTimeMs(id: bigint): number {
  return Number(id >> (workerBits + sequenceBits)) + oasisEpochMs;
}

/** The smallest id that could have been made at `ms` (for time-range keyset queries). */
export function minIdAt(ms: number): bigint {
  return BigInt(Math.max(0, ms - oasisEpochMs)) << (workerBits + sequenceBits);
}
