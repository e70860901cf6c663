/**
 * The edge's HTTP niceties on a real edge in front of a real upstream
 * (edge/testdata/edge-testbed.ts): CORS preflight and response headers for a restricted
 * origin list, br/gzip compression of JSON, HTTP/2 cleartext from a node:http2 client,
 * request ids echoed and forwarded upstream, and /readyz naming a down upstream.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http2 from "node:http2";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { startEdgeTestbed, type EdgeTestbed } from "./testdata/edge-testbed.ts";

const appOrigin = "https://app.oasis.example";
let bed: EdgeTestbed;

beforeAll(async () => {
  bed = await startEdgeTestbed({ OASIS_EDGE_CORS_ORIGINS: appOrigin });
});
afterAll(() => bed?.stop());

function wait(body: Record<string, unknown>, headers: Record<string, string> = {}, init: Record<string, unknown> = {}) {
  return fetch(`${bed.edge}${bed.waitPath}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    ...init,
  });
}

describe("CORS", () => {
  test("a preflight from an allowed origin is answered with what the app may send", async () => {
    const res = await fetch(`${bed.edge}${bed.waitPath}`, {
      method: "OPTIONS",
      headers: { origin: appOrigin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(appOrigin);
    expect(res.headers.get("vary")).toBe("Origin");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    const allowed = res.headers.get("access-control-allow-headers")!.split(", ");
    for (const h of ["authorization", "content-type", "connect-timeout-ms", "x-request-id"]) expect(allowed).toContain(h);
    expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);
  });

  test("a preflight from any other origin is refused", async () => {
    const res = await fetch(`${bed.edge}${bed.waitPath}`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("responses carry the allowed origin and expose the request id and rate-limit headers", async () => {
    const res = await wait({ tag: "cors" }, { origin: appOrigin });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(appOrigin);
    const exposed = res.headers.get("access-control-expose-headers")!.split(", ");
    expect(exposed).toContain("x-request-id");
    expect(exposed).toContain("ratelimit-remaining");
    const other = await wait({ tag: "cors-other" }, { origin: "https://evil.example" });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("compression of JSON responses", () => {
  const json = JSON.stringify({ payload: "x".repeat(5_000) });

  test("brotli when accepted", async () => {
    const res = await wait({ replyBytes: 5_000 }, { "accept-encoding": "gzip, br" }, { decompress: false });
    expect(res.headers.get("content-encoding")).toBe("br");
    expect(res.headers.get("vary")).toContain("Accept-Encoding");
    const raw = Buffer.from(await res.arrayBuffer());
    expect(raw.length).toBeLessThan(json.length);
    expect(brotliDecompressSync(raw).toString()).toBe(json);
  });

  test("gzip when only gzip is accepted", async () => {
    const res = await wait({ replyBytes: 5_000 }, { "accept-encoding": "gzip" }, { decompress: false });
    expect(res.headers.get("content-encoding")).toBe("gzip");
    expect(gunzipSync(Buffer.from(await res.arrayBuffer())).toString()).toBe(json);
  });

  test("none when not accepted, or for bodies under 1 KiB", async () => {
    const plain = await wait({ replyBytes: 5_000 }, { "accept-encoding": "identity" }, { decompress: false });
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(await plain.text()).toBe(json);
    const small = await wait({ replyBytes: 10 }, { "accept-encoding": "br" }, { decompress: false });
    expect(small.headers.get("content-encoding")).toBeNull();
  });
});

test("HTTP/2 cleartext (prior knowledge) from a node:http2 client", async () => {
  const session = http2.connect(bed.edge);
  try {
    const call = (tag: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({ ":method": "POST", ":path": bed.waitPath, "content-type": "application/json" });
        let status = 0;
        let body = "";
        stream.on("response", (h) => (status = Number(h[":status"])));
        stream.on("data", (c: Buffer) => (body += c.toString()));
        stream.on("end", () => resolve({ status, body }));
        stream.on("error", reject);
        stream.end(JSON.stringify({ tag, replyBytes: 3 }));
      });
    // Two calls multiplexed on one connection.
    const [a, b] = await Promise.all([call("h2-a"), call("h2-b")]);
    expect(a).toEqual({ status: 200, body: '{"payload":"xxx"}' });
    expect(b.status).toBe(200);
  } finally {
    session.close();
  }
});

describe("request ids", () => {
  test("a well-formed x-request-id is echoed and forwarded upstream", async () => {
    const res = await wait({ tag: "rid-given" }, { "x-request-id": "app-7f3a.1:retry-2" });
    expect(res.headers.get("x-request-id")).toBe("app-7f3a.1:retry-2");
    expect(bed.calls.find((c) => c.tag === "rid-given")!.requestId).toBe("app-7f3a.1:retry-2");
  });

  test("a malformed one is replaced by a fresh id, the same upstream and in the response", async () => {
    const res = await wait({ tag: "rid-bad" }, { "x-request-id": "no spaces <allowed>" });
    const id = res.headers.get("x-request-id")!;
    expect(id).not.toBe("no spaces <allowed>");
    expect(id).toMatch(/^[A-Za-z0-9._:-]{1,64}$/);
    expect(bed.calls.find((c) => c.tag === "rid-bad")!.requestId).toBe(id);
  });

  test("without one, each request gets its own", async () => {
    const a = (await wait({ tag: "rid-none" })).headers.get("x-request-id");
    const b = (await wait({ tag: "rid-none" })).headers.get("x-request-id");
    expect(a).toBeTruthy();
    expect(a).not.toBe(b);
  });
});

test("/readyz is 503 naming the upstream once it is down", async () => {
  const ready = await fetch(`${bed.edge}/readyz`);
  expect(ready.status).toBe(200);
  await bed.stopUpstream();
  let res: Response | undefined;
  let body = "";
  // The edge checks upstreams every 2 s.
  for (let i = 0; i < 60; i++) {
    res = await fetch(`${bed.edge}/readyz`);
    body = await res.text();
    if (res.status !== 200) break;
    await Bun.sleep(100);
  }
  expect(res!.status).toBe(503);
  expect(body).toBe("not ready: edgetest\n");
});
