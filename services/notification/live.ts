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
   * Subscribes, and resolves once the NATS server has the subscription, so nothing
   * published after it resolves is missed; then yields the notification ids for
   * `userId` as they arrive, until `signal` aborts.
   */
  async updates(userId: bigint, signal: AbortSignal): Promise<AsyncIterable<bigint>> {
    const updates = await this.channel.updates(userId, signal);
    return (async function* () {
      for await (const data of updates) yield BigInt(decoder.decode(data));
    })();
  }
}
