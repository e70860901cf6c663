/**
 * The edge's HTTP/2 upstream client against a real HTTP/2 server: a whole answer
 * resolves with every byte; a connection that drops mid-answer (as when a media replica
 * is killed with `kill -9` while sending an image) is `unavailable`, never a 200 with
 * the bytes received so far. Bun's http2 client ends such a stream as if it had
 * finished; services/media/crash.test.ts once got a media item's `orig` cut to 60,564
 * of its 332,566 bytes that way. The drop is made by a TCP proxy that forwards the
 * server's first bytes, then closes the client's connection (FIN) while it keeps
 * reading what the client sends, exactly what the kernel does for a killed server
 * that had read everything.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import http2 from "node:http2";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { H2ConnectClient } from "./h2-client.ts";

const bodyBytes = 400_000;
/** The proxy cuts the connection once this many bytes reached the client (headers and part of the body). */
const cutAfterBytes = 60_000;
const body = Buffer.alloc(bodyBytes, 7);
let server: http2.Http2Server;
let proxy: net.Server;
let direct: H2ConnectClient;
let cut: H2ConnectClient;

beforeAll(async () => {
  server = http2.createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(bodyBytes) });
    if (req.method === "HEAD") res.end();
    else res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const serverPort = (server.address() as AddressInfo).port;
  proxy = net.createServer({ allowHalfOpen: true }, (client) => {
    const up = net.connect(serverPort, "127.0.0.1");
    let sent = 0;
    client.on("data", (c) => up.writable && up.write(c));
    client.on("error", () => {});
    up.on("error", () => {});
    up.on("data", (c: Buffer) => {
      if (sent >= cutAfterBytes) return;
      client.write(c);
      sent += c.byteLength;
      if (sent >= cutAfterBytes) {
        up.destroy();
        client.end(); // FIN; the client's later frames are still read, so no RST
      }
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  direct = new H2ConnectClient(`http://127.0.0.1:${serverPort}`);
  cut = new H2ConnectClient(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
});
afterAll(() => {
  direct?.close();
  cut?.close();
  proxy?.close();
  server?.close();
});

test("a whole answer resolves with all its bytes; HEAD with none", async () => {
  const got = await direct.request("GET", "/media/1/orig", {}, 10_000);
  expect(got.status).toBe(200);
  expect(got.body.byteLength).toBe(bodyBytes);
  const head = await direct.request("HEAD", "/media/1/orig", {}, 10_000);
  expect(head.status).toBe(200);
  expect(head.headers["content-length"]).toBe(String(bodyBytes));
  expect(head.body.byteLength).toBe(0);
  expect((await direct.unary("/x.v1.X/Y", new Uint8Array(), {}, 10_000)).byteLength).toBe(bodyBytes);
});

/** What a call's promise settled with: the error, or an Error saying how many bytes it resolved with. */
const outcome = (p: Promise<{ status: number; body: Uint8Array } | Uint8Array>) =>
  p.then(
    (r) => new Error(`resolved with ${(r instanceof Uint8Array ? r : r.body).byteLength} of ${bodyBytes} bytes`),
    (e: unknown) => e,
  );

test("a connection dropped mid-answer is unavailable, not a short 200 (request)", async () => {
  const err = await outcome(cut.request("GET", "/media/1/orig", {}, 10_000));
  expect(String(err)).toContain("unavailable");
  expect(err).toBeInstanceOf(ConnectError);
  expect((err as ConnectError).code).toBe(Code.Unavailable);
});

test("a connection dropped mid-answer is unavailable, not a short 200 (unary)", async () => {
  const err = await outcome(cut.unary("/x.v1.X/Y", new Uint8Array(), {}, 10_000));
  expect(String(err)).toContain("unavailable");
  expect((err as ConnectError).code).toBe(Code.Unavailable);
});
