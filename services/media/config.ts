/**
 * Media's configuration. Env (optional): OASIS_MEDIA_DATA_DIR [.data/media/<namespace>]
 * (volume files), OASIS_MEDIA_MAX_VOLUME_BYTES [1073741824],
 * OASIS_MEDIA_SCAN_INTERVAL_MS [600000] (orphan scan), OASIS_MEDIA_PUBLIC_PREFIX [/media]
 * (path the edge serves bytes under, used in variant URLs).
 */
import { join } from "node:path";
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";

export interface MediaConfig extends BaseConfig {
  readonly dataDir: string;
  readonly maxVolumeBytes: number;
  readonly scanIntervalMs: number;
  readonly publicPrefix: string;
}

const repoRoot = join(import.meta.dir, "..", "..");

export function loadMediaConfig(env: Env = process.env): MediaConfig {
  const base = baseConfig("media", env);
  return Object.freeze({
    ...base,
    dataDir: env.OASIS_MEDIA_DATA_DIR ?? join(repoRoot, ".data", "media", base.namespace || "default"),
    maxVolumeBytes: Number(env.OASIS_MEDIA_MAX_VOLUME_BYTES ?? 1024 ** 3),
    scanIntervalMs: Number(env.OASIS_MEDIA_SCAN_INTERVAL_MS ?? 600_000),
    publicPrefix: env.OASIS_MEDIA_PUBLIC_PREFIX ?? "/media",
  });
}
