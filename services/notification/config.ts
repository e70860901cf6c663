/**
 * Notification's configuration: the kit's base settings, plus
 * OASIS_NOTIFICATION_CONSUMER_CONCURRENCY [8]: events each consumer handles at once.
 * Handling one event is mostly waiting (a graph call for blocks and mutes, a short
 * transaction), so one at a time left the inbox minutes behind a bulk follow import
 * (37,624 follows in the demo). Two events for the same group may race; the unique open
 * group key and applyOnce make the loser retry, so the result is the same as serial.
 * OASIS_NOTIFICATION_BATCHED_WRITES [1]: an event's deliveries are stored in one
 * transaction of two round trips (store.ts deliverBatched: the new entries in one
 * multi-row INSERT); 0 stores them statement by statement (the A/B switch of
 * bench/writes.ts).
 * OASIS_NOTIFICATION_GROUP_COMMIT [256]: follow and like events handed in while a commit
 * is under way are stored together, up to this many a commit (events.ts GroupCommit,
 * store.ts deliverGroupSet), and the follow and like consumers take at least this many
 * events at once; 0 stores each event alone. 256 rather than 64: the demo's follow import
 * (37,624 follow events) was applied with the step at 256 where at 64 notification held
 * 15,059 events at the step's end and needed 36 s more (CPU 0.44 -> 0.28 ms per follow
 * event; bench/README.md stop 31, design note 56).
 * OASIS_NOTIFICATION_SET_COMMIT [1]: a group commit sends a fixed number of statements
 * whatever its size (store.ts deliverGroupSet: one locking read of the open groups, one
 * of their actors, one INSERT ... ON DUPLICATE KEY UPDATE of the changed groups, one
 * INSERT of the new actors); 0: a point lookup per group and two or three statements per
 * delivery (store.ts deliverGroup).
 * OASIS_NOTIFICATION_EVENT_RELATIONS [1]: a follow_created or post_liked event that
 * carries the recipient's relationship to the actor (followee_muting, author_muting,
 * read by graph or interaction when the write was made) is judged by it, with no
 * BatchGetRelationships call; 0 asks graph for every event, as before.
 */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";
import { boolEnv, nonNegativeIntEnv, positiveIntEnv } from "#kit/env.ts";

export interface NotificationConfig extends BaseConfig {
  readonly consumerConcurrency: number;
  /** An event's deliveries go to MySQL in two round trips (store.ts deliverBatched). */
  readonly batchedWrites: boolean;
  /** Most events of one group commit (events.ts GroupCommit); 0: each event alone. */
  readonly groupCommit: number;
  /** Group commits in a fixed number of statements (store.ts deliverGroupSet). */
  readonly setCommit: boolean;
  /** Trust the relationship a follow or like event carries (domain/deliveries.ts wanted). */
  readonly eventRelations: boolean;
}

export function loadNotificationConfig(env: Env = process.env): NotificationConfig {
  return Object.freeze({
    ...baseConfig("notification", env),
    consumerConcurrency: positiveIntEnv(env, "OASIS_NOTIFICATION_CONSUMER_CONCURRENCY", 8),
    batchedWrites: boolEnv(env, "OASIS_NOTIFICATION_BATCHED_WRITES", true),
    groupCommit: nonNegativeIntEnv(env, "OASIS_NOTIFICATION_GROUP_COMMIT", 256),
    setCommit: boolEnv(env, "OASIS_NOTIFICATION_SET_COMMIT", true),
    eventRelations: boolEnv(env, "OASIS_NOTIFICATION_EVENT_RELATIONS", true),
  });
}
