/**
 * Live delivery across replicas: after an inbox write commits, the consumer publishes
 * the notification id on the NATS core subject `oasis.live.notification.<user>` (plain
 * pub/sub: a live stream is best effort, the inbox is the record). The subject is outside
 * `oasis.notification.>`, which the service's JetStream stream captures: under it every
 * live publish was also stored for the stream's 7 days. Every replica serving
 * a StreamNotifications call for that user is subscribed and pushes it.
 */
import type { NatsConnection } from "@nats-io/transport-node";

export class LiveUpdates {
  constructor(
    private readonly nc: NatsConnection,
    private readonly namespace: string,
  ) {}

  private subject(userId: bigint): string {
    return `${this.namespace ? `${this.namespace}.` : ""}oasis.live.notification.${userId}`;
  }

  publish(userId: bigint, notificationId: bigint): void {
    this.nc.publish(this.subject(userId), notificationId.toString());
  }

  /**
   * Subscribes, and resolves once the NATS server has the subscription (a flush round
   * trip), so nothing published after it resolves is missed; then yields the
   * notification ids for `userId` as they arrive, until `signal` aborts.
   */
  async updates(userId: bigint, signal: AbortSignal): Promise<AsyncIterable<bigint>> {
    const sub = this.nc.subscribe(this.subject(userId));
    await this.nc.flush();
    const stop = () => sub.unsubscribe();
    signal.addEventListener("abort", stop, { once: true });
    return (async function* () {
      try {
        for await (const m of sub) yield BigInt(m.string());
      } finally {
        signal.removeEventListener("abort", stop);
        sub.unsubscribe();
      }
    })();
  }
}
