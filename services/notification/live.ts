/**
 * Live delivery across replicas: after an inbox write commits, the consumer publishes
 * the notification id on the kit's live channel `oasis.live.notification.<user>`
 * (kit/live.ts: plain pub/sub, the inbox is the record). Every replica serving a
 * StreamNotifications call for that user is subscribed and pushes it.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { LiveChannel } from "#kit/live.ts";

const decoder = new TextDecoder();

export class LiveUpdates {
  private readonly channel: LiveChannel;

  constructor(nc: NatsConnection, namespace: string) {
    this.channel = new LiveChannel(nc, namespace, "notification");
  }

  publish(userId: bigint, notificationId: bigint): void {
    this.channel.publish(userId, notificationId.toString());
  }

  /**
   * Subscribes now (so nothing published after this call is missed) and returns the
   * notification ids for `userId` as they arrive, until `signal` aborts.
   */
  updates(userId: bigint, signal: AbortSignal): AsyncIterable<bigint> {
    const updates = this.channel.updates(userId, signal); // subscribed here, not at the first read
    return (async function* () {
      for await (const data of updates) yield BigInt(decoder.decode(data));
    })();
  }
}
