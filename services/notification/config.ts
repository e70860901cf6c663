/**
 * Notification's configuration: the kit's base settings, plus
 * OASIS_NOTIFICATION_CONSUMER_CONCURRENCY [8]: events each consumer handles at once.
 * Handling one event is mostly waiting (a graph call for blocks and mutes, a short
 * transaction), so one at a time left the inbox minutes behind a bulk follow import
 * (37,624 follows in the demo). Two events for the same group may race; the unique open
 * group key and applyOnce make the loser retry, so the result is the same as serial.
 */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";
import { positiveIntEnv } from "#kit/env.ts";

export interface NotificationConfig extends BaseConfig {
  readonly consumerConcurrency: number;
}

export function loadNotificationConfig(env: Env = process.env): NotificationConfig {
  return Object.freeze({
    ...baseConfig("notification", env),
    consumerConcurrency: positiveIntEnv(env, "OASIS_NOTIFICATION_CONSUMER_CONCURRENCY", 8),
  });
}
