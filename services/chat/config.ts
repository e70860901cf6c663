/**
 * Chat's configuration: the kit's base settings, plus
 * - OASIS_MEDIA_URL_KEY: HMAC key of the signed image URLs (kit/signed-url.ts), shared
 *   with media. No default: without it chat refuses images (MEDIA_DISABLED).
 * - OASIS_CHAT_MEDIA_URL_TTL_SECONDS [3600]: how long a signed image URL works.
 * - OASIS_CHAT_MESSAGES_PER_MINUTE [30] and OASIS_CHAT_CONVOS_PER_DAY [20]: per-sender
 *   limits (the numbers; Instagram publishes none). Tests and benches raise them.
 */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";
import { positiveIntEnv, stringEnv } from "#kit/env.ts";

export interface ChatConfig extends BaseConfig {
  readonly mediaUrlKey: string | undefined;
  readonly mediaUrlTtlSeconds: number;
  readonly messagesPerMinute: number;
  readonly convosPerDay: number;
}

const positive = positiveIntEnv;

export function loadChatConfig(env: Env = process.env): ChatConfig {
  return Object.freeze({
    ...baseConfig("chat", env),
    mediaUrlKey: stringEnv(env, "OASIS_MEDIA_URL_KEY"),
    mediaUrlTtlSeconds: positive(env, "OASIS_CHAT_MEDIA_URL_TTL_SECONDS", 3600),
    messagesPerMinute: positive(env, "OASIS_CHAT_MESSAGES_PER_MINUTE", 30),
    convosPerDay: positive(env, "OASIS_CHAT_CONVOS_PER_DAY", 20),
  });
}
