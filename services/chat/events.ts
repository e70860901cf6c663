/**
 * Live delivery across replicas: after a transaction that appended log entries commits,
 * each entry is published on the NATS core subject `oasis.chat.live.<user>` (plain
 * pub/sub; the log is the record). Every replica serving a StreamConvoEvents call for
 * that user is subscribed; a stream that sees a cursor jump (a lost or reordered
 * notice) reads the missing entries from the log, so live delivery has no gap either.
 * Domain events (events.proto) leave through the outbox in the same transactions.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { NatsConnection } from "@nats-io/transport-node";
import { LogEntrySchema, type LogEntry } from "#gen/oasis/chat/v1/chat_pb.ts";

export class LiveLog {
  constructor(
    private readonly nc: NatsConnection,
    private readonly namespace: string,
  ) {}

  private subject(userId: bigint): string {
    return `${this.namespace ? `${this.namespace}.` : ""}oasis.chat.live.${userId}`;
  }

  /** Tells live streams about committed entries. */
  publish(entries: ReadonlyArray<{ userId: bigint; entry: LogEntry }>): void {
    for (const { userId, entry } of entries) this.nc.publish(this.subject(userId), toBinary(LogEntrySchema, entry));
  }

  /** Subscribes now and yields `userId`'s entries as they are published, until `signal` aborts. */
  entries(userId: bigint, signal: AbortSignal): AsyncIterable<LogEntry> {
    const sub = this.nc.subscribe(this.subject(userId));
    const stop = () => sub.unsubscribe();
    signal.addEventListener("abort", stop, { once: true });
    return (async function* () {
      try {
        for await (const m of sub) yield fromBinary(LogEntrySchema, m.data);
      } finally {
        signal.removeEventListener("abort", stop);
        sub.unsubscribe();
      }
    })();
  }
}
