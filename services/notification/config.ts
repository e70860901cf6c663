/** Notification's configuration: the kit's base settings. */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";

export type NotificationConfig = BaseConfig;

export function loadNotificationConfig(env: Env = process.env): NotificationConfig {
  return baseConfig("notification", env);
}
