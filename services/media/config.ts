/**
 * Media's configuration. Env (optional): OASIS_MEDIA_DATA_DIR [.data/media/<namespace>]
 * (volume files), OASIS_MEDIA_MAX_VOLUME_BYTES [1073741824],
 * OASIS_MEDIA_SCAN_INTERVAL_MS [600000] (orphan scan), OASIS_MEDIA_PUBLIC_PREFIX [/media]
 * (path the edge serves bytes under, used in variant URLs), OASIS_MEDIA_COMPACT_INTERVAL_MS
 * [600000] (how often sealed volumes are checked for compaction) and
 * OASIS_MEDIA_COMPACT_MIN_DELETED_RATIO [0.3] (a sealed volume is rewritten once at least this
 * share of its needle bytes is deleted: rewriting costs a full copy of the live bytes, so
 * a little garbage is cheaper to keep). OASIS_MEDIA_URL_KEY (no default): HMAC key of the
 * signed URLs that open private buckets' bytes (kit/signed-url.ts, policy.ts); without
 * it private bytes are never served.
 */
import { join } from "node:path";
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";
import { numberEnv, positiveIntEnv, stringEnv } from "#kit/env.ts";

export interface MediaConfig extends BaseConfig {
  readonly dataDir: string;
  readonly maxVolumeBytes: number;
  readonly scanIntervalMs: number;
  readonly publicPrefix: string;
  readonly compactIntervalMs: number;
  /** 0..1; see OASIS_MEDIA_COMPACT_MIN_DELETED_RATIO. */
  readonly compactMinDeletedRatio: number;
  /** Key for signed URLs of private buckets; undefined: private bytes are refused. */
  readonly urlKey: string | undefined;
}

const repoRoot = join(import.meta.dir, "..", "..");

export function loadMediaConfig(env: Env = process.env): MediaConfig {
  const base = baseConfig("media", env);
  return Object.freeze({
    ...base,
    dataDir: env.OASIS_MEDIA_DATA_DIR ?? join(repoRoot, ".data", "media", base.namespace || "default"),
    maxVolumeBytes: positiveIntEnv(env, "OASIS_MEDIA_MAX_VOLUME_BYTES", 1024 ** 3),
    scanIntervalMs: positiveIntEnv(env, "OASIS_MEDIA_SCAN_INTERVAL_MS", 600_000),
    publicPrefix: env.OASIS_MEDIA_PUBLIC_PREFIX ?? "/media",
    compactIntervalMs: positiveIntEnv(env, "OASIS_MEDIA_COMPACT_INTERVAL_MS", 600_000),
    compactMinDeletedRatio: numberEnv(env, "OASIS_MEDIA_COMPACT_MIN_DELETED_RATIO", 0.3, { min: 0, max: 1 }),
    urlKey: stringEnv(env, "OASIS_MEDIA_URL_KEY"),
  });
}
