/**
 * kit/redis.ts coalesceWrites against a real Redis: the commands made in one turn of the
 * event loop leave in one socket write, answered in order with the replies a connection
 * without it gets, Buffer arguments and pipelines included; and a connection that drops
 * reconnects and keeps answering (each new stream is wrapped before its handshake). It
 * fails if a turn's commands are written one by one, or if a reconnect loses the queue.
 */
import { afterAll, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { coalesceWrites, deleteKeysWithPrefix } from "./redis.ts";
import { testNamespace } from "./testing/namespace.ts";

const url = process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379";
const ns = testNamespace();
const [coalesced, plain] = [coalesceWrites(new Redis(url)), new Redis(url)];
afterAll(async () => {
  coalesced.disconnect();
  plain.disconnect();
  await deleteKeysWithPrefix(url, `${ns}:`);
});

/** Counts the socket writes (the stream's `_write`, what each `write` ends in) of `redis`'s current stream from now on. */
function countWrites(redis: Redis): { readonly n: number } {
  const stream = (redis as unknown as { stream: { _write(chunk: unknown, encoding: unknown, cb: unknown): void } }).stream;
  const inner = stream._write.bind(stream);
  const counter = { n: 0 };
  stream._write = (chunk, encoding, cb) => {
    counter.n++;
    inner(chunk, encoding, cb);
  };
  return counter;
}

test("one turn's commands leave in one write, with the same replies in the same order", async () => {
  await Promise.all([coalesced.ping(), plain.ping()]);
  const writes = countWrites(coalesced);
  // Each connection its own keys: the same commands, the same replies.
  const ops = (r: Redis, k: string) => [
    r.set(`${k}:a`, "1"),
    r.incr(`${k}:n`),
    r.set(`${k}:b`, Buffer.from([0, 1, 2, 255])),
    r.getBuffer(`${k}:b`),
    r.pipeline().get(`${k}:a`).incr(`${k}:n`).exec(),
    r.mget(`${k}:a`, `${k}:missing`),
  ];
  const got = await Promise.all(ops(coalesced, `${ns}:c`));
  expect(writes.n).toBe(1);
  expect(got).toEqual(await Promise.all(ops(plain, `${ns}:p`)));
  expect(got[3]).toEqual(Buffer.from([0, 1, 2, 255]));
});

test("a connection that drops reconnects, wrapped again, and answers what was asked meanwhile", async () => {
  await coalesced.set(`${ns}:c`, "before");
  const closed = new Promise((resolve) => coalesced.once("close", resolve));
  (coalesced as unknown as { stream: { destroy(): void } }).stream.destroy();
  await closed;
  // Asked while it reconnects: queued by ioredis, sent on the new stream.
  const [value, set] = await Promise.all([coalesced.get(`${ns}:c`), coalesced.set(`${ns}:c`, "after")]);
  expect([value, set]).toEqual(["before", "OK"]);
  const writes = countWrites(coalesced);
  expect(await Promise.all([coalesced.get(`${ns}:c`), coalesced.exists(`${ns}:c`)])).toEqual(["after", 1]);
  expect(writes.n).toBe(1);
});
