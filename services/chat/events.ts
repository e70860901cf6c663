/**
 * Live delivery across replicas: after a transaction that appended log entries commits,
 * each entry is published on the kit's live channel `oasis.live.chat.<user>` (kit/live.ts:
 * plain pub/sub; the log is the record). Every replica serving a StreamConvoEvents call for
 * that user is subscribed; a stream that sees a cursor jump (a lost or reordered
 * notice) reads the missing entries from the log, so live delivery has no gap either.
 * Domain events (events.proto) leave through the outbox in the same transactions.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { NatsConnection } from "@nats-io/transport-node";
import { LogEntrySchema, type LogEntry } from "#gen/oasis/chat/v1/chat_pb.ts";
import { LiveChannel } from "#kit/live.ts";

export class LiveLog {
  private readonly channel: LiveChannel;

  constructor(nc: NatsConnection, namespace: string) {
    this.channel = new LiveChannel(nc, namespace, "chat");
  }

  /** Tells live streams about committed entries. */
  publish(entries: ReadonlyArray<{ userId: bigint; entry: LogEntry }>): void {
    for (const { userId, entry } of entries) this.channel.publish(userId, toBinary(LogEntrySchema, entry));
  }

  /**
   * Subscribes, resolving once the NATS server has the subscription, and yields
   * `userId`'s entries as they are published, until `signal` aborts.
   */
  async entries(userId: bigint, signal: AbortSignal): Promise<AsyncIterable<LogEntry>> {
    const updates = await this.channel.updates(userId, signal);
    return (async function* () {
      for await (const data of updates) yield fromBinary(LogEntrySchema, data);
    })();
  }
}
