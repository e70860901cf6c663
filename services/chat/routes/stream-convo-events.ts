/**
 * StreamConvoEvents: subscribes to the caller's live entries first, then answers the
 * current cursor (or, given a cursor, the entries since it), then each entry as it
 * commits. Entries carry their cursor, so a notice that arrives late (reordered across
 * replicas) is skipped and a jump past the next cursor is filled from the log: the
 * stream never skips nor repeats an entry. Without a notice for 5 s it reads the log
 * anyway, so even a lost last notice only delays its entry.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { LogEntry } from "#gen/oasis/chat/v1/chat_pb.ts";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import { ErrorReason } from "#gen/oasis/chat/v1/errors_pb.ts";
import type { ChatContext } from "../context.ts";
import { errors } from "../domain/errors.ts";
import { parseCursor } from "../domain/log.ts";
import { signEntry } from "../domain/present.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

/** How long a stream waits for a notice before it reads the log anyway, ms. */
const pollMs = 5_000;

export function streamConvoEvents(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "streamConvoEvents"> {
  const signer = { key: ctx.rt.config.mediaUrlKey, ttlSeconds: ctx.rt.config.mediaUrlTtlSeconds };
  const db = () => ctx.rt.db;
  return {
    async *streamConvoEvents(req, handlerCtx) {
      const me = callerId(handlerCtx);
      const given = req.cursor ? parseCursor(req.cursor) : undefined;
      if (req.cursor && given === undefined) throw errors.invalid(ErrorReason.BAD_CURSOR, [{ field: "cursor", description: "is not a cursor from GetLog or StreamConvoEvents" }]);
      const live = await ctx.live.entries(me, handlerCtx.signal);
      let last = given ?? (await ctx.store.logHead(db(), me));
      yield { cursor: String(last) };
      const since = async function* (): AsyncGenerator<LogEntry> {
        for (;;) {
          const page = await ctx.store.logSince(db(), me, last, 500);
          for (const e of page) yield e;
          if (page.length < 500) return;
        }
      };
      for await (const e of since()) {
        last = BigInt(e.cursor);
        yield { entry: signEntry(signer, e), cursor: e.cursor };
      }
      // Notices are best effort (NATS core drops them for a slow or reconnecting
      // connection), and a gap is otherwise noticed only at the next notice: the log is
      // also read after `pollMs` without one, so a lost trailing entry is late, never lost.
      const it = live[Symbol.asyncIterator]();
      let next = it.next();
      while (!handlerCtx.signal.aborted) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const tick = new Promise<"tick">((resolve) => (timer = setTimeout(() => resolve("tick"), pollMs)));
        const got = await Promise.race([next, tick]);
        clearTimeout(timer);
        let batch: LogEntry[];
        if (got === "tick") batch = await ctx.store.logSince(db(), me, last, 1000);
        else {
          if (got.done) return;
          next = it.next();
          const seq = BigInt(got.value.cursor);
          if (seq <= last) continue;
          batch = seq === last + 1n ? [got.value] : await ctx.store.logSince(db(), me, last, 1000);
        }
        for (const x of batch) {
          last = BigInt(x.cursor);
          yield { entry: signEntry(signer, x), cursor: x.cursor };
        }
      }
    },
  };
}
