/**
 * Live fan-out to a user's open streams across replicas, over NATS core pub/sub: a
 * service publishes on `oasis.live.<topic>.<user>` after a commit, and every replica
 * serving a stream for that user is subscribed and pushes what arrives. Best effort by
 * design: the service's own store is the record, and a stream that may have missed a
 * notice reads the store (an inbox, a log) to catch up.
 *
 * The subjects are outside every JetStream stream's `oasis.<domain>.>`, so nothing stores
 * them (under `oasis.<domain>.live.>` every publish was kept for the stream's 7 days).
 */
import type { NatsConnection } from "@nats-io/transport-node";

export class LiveChannel {
  /**
   * @param topic names the kind of update (e.g. the owning service's name); one word.
   * @param namespace the run's namespace (tests), prefixed as `<ns>.` like every subject.
   */
  constructor(
    private readonly nc: NatsConnection,
    private readonly namespace: string,
    private readonly topic: string,
  ) {}

  /** The subject of `userId`'s live updates. */
  subject(userId: bigint): string {
    return `${this.namespace ? `${this.namespace}.` : ""}oasis.live.${this.topic}.${userId}`;
  }

  /** Publishes one update for `userId` (fire and forget). */
  publish(userId: bigint, data: Uint8Array | string): void {
    this.nc.publish(this.subject(userId), data);
  }

  /**
   * Subscribes, and resolves once the NATS server has the subscription (a flush round
   * trip), so nothing published after it resolves is missed; then yields `userId`'s
   * updates as they arrive, until `signal` aborts.
   */
  async updates(userId: bigint, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    const sub = this.nc.subscribe(this.subject(userId));
    await this.nc.flush();
    const stop = () => sub.unsubscribe();
    signal.addEventListener("abort", stop, { once: true });
    return (async function* () {
      try {
        for await (const m of sub) yield m.data;
      } finally {
        signal.removeEventListener("abort", stop);
        sub.unsubscribe();
      }
    })();
  }
}
