/** Post's configuration: the kit's base settings (no service-specific settings yet). */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";

export type PostConfig = BaseConfig;

export function loadPostConfig(env: Env = process.env): PostConfig {
  return baseConfig("post", env);
}
