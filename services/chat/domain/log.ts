/**
 * Writes that append to members' logs: `withLog` runs a transaction whose body records
 * log entries; they are appended (cursors assigned) in the same transaction, and told to
 * live streams after it commits. A deadlock retry starts the list afresh.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Tx } from "#kit/mysql.ts";
import { LogEntrySchema, type LogEntry } from "#gen/oasis/chat/v1/chat_pb.ts";
import type { ChatContext } from "../context.ts";
import type { LogWrite } from "./model.ts";

export type LogFn = (userId: bigint, entry: MessageInitShape<typeof LogEntrySchema>) => void;

export async function withLog<T>(ctx: ChatContext, fn: (tx: Tx, log: LogFn) => Promise<T>): Promise<T> {
  let appended: Array<{ userId: bigint; entry: LogEntry }> = [];
  const out = await ctx.rt.tx(async (tx) => {
    const writes: LogWrite[] = [];
    const result = await fn(tx, (userId, entry) => writes.push({ userId, entry: create(LogEntrySchema, entry) }));
    appended = await ctx.store.appendLog(tx, writes);
    return result;
  });
  ctx.live.publish(appended);
  return out;
}

/** Parses a client's cursor ("" is the start); BAD_CURSOR otherwise. */
export function parseCursor(cursor: string): bigint | undefined {
  if (cursor === "") return 0n;
  return /^[0-9]{1,19}$/.test(cursor) ? BigInt(cursor) : undefined;
}
