/**
 * Image bytes over plain HTTP: `GET /media/{id}/{variant}` on the media port (the edge
 * forwards its `/media/...` to here). Lookups come from the in-memory directory, the
 * bytes from one pread in the volume store. Responses are immutable (an id never changes
 * its bytes), carry an ETag (the needle key), answer If-None-Match with 304 and a
 * single `Range: bytes=` with 206 (RFC 9110 section 14). Unknown, deleted or
 * wrong-variant ids are 404. A private bucket's bytes (policy.ts) need a valid signed URL
 * (`?exp=...&sig=...`, kit/signed-url.ts): missing, expired or altered is 403, and they are
 * `Cache-Control: private, no-store` so no shared cache keeps them.
 */
import type { HttpFallback, NodeServerResponse } from "#kit/server.ts";
import { sendHttp } from "#kit/server.ts";
import { verifySignedPath } from "#kit/signed-url.ts";
import type { MediaContext } from "./context.ts";
import { privateBuckets } from "./policy.ts";
import { CorruptNeedleError } from "./volume/volume-store.ts";

const pathPattern = /^\/media\/([1-9][0-9]{0,18})\/(thumb|feed|orig)$/;

/** Parses one `bytes=a-b`, `bytes=a-` or `bytes=-n` range; undefined when unsatisfiable. */
export function parseRange(header: string, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0) return undefined;
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start <= end && start < size ? { start, end } : undefined;
}

export function mediaHttp(ctx: MediaContext): HttpFallback {
  const notFound = (res: NodeServerResponse) => sendHttp(res, 404, { "content-type": "text/plain; charset=utf-8" }, "not found\n");
  return (req, res) => {
    const [path, query = ""] = (req.url ?? "").split("?", 2) as [string, string?];
    const m = pathPattern.exec(path);
    if (!m) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendHttp(res, 405, { allow: "GET, HEAD" }, "");
      return true;
    }
    const id = BigInt(m[1]!);
    const variantName = m[2]!;
    void (async () => {
      try {
        const record = (await ctx.directory.get([id])).get(id);
        const v = record && !record.deleted ? record.variants.find((x) => x.name === variantName) : undefined;
        if (!v) return notFound(res);
        const isPrivate = privateBuckets.has(record!.bucket);
        if (isPrivate && !verifySignedPath(ctx.rt.config.urlKey, path, new URLSearchParams(query))) {
          return sendHttp(res, 403, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }, "forbidden\n");
        }
        const etag = `"${v.needleKey.toString(16)}"`;
        const common = {
          etag,
          "cache-control": isPrivate ? "private, no-store" : "public, max-age=31536000, immutable",
          "accept-ranges": "bytes",
          "content-type": v.contentType,
        };
        if (req.headers["if-none-match"] === etag) return sendHttp(res, 304, common, "");
        const bytes = await ctx.volumes.read(v.needleKey, v.cookie);
        if (!bytes) return notFound(res);
        const rangeHeader = req.headers.range;
        if (typeof rangeHeader === "string") {
          const r = parseRange(rangeHeader, bytes.byteLength);
          if (!r) return sendHttp(res, 416, { ...common, "content-range": `bytes */${bytes.byteLength}` }, "");
          const part = bytes.subarray(r.start, r.end + 1);
          return sendHttp(res, 206, { ...common, "content-range": `bytes ${r.start}-${r.end}/${bytes.byteLength}`, "content-length": String(part.byteLength) }, req.method === "HEAD" ? "" : part);
        }
        sendHttp(res, 200, { ...common, "content-length": String(bytes.byteLength) }, req.method === "HEAD" ? "" : bytes);
      } catch (err) {
        ctx.rt.log.error({ err, media_id: String(id) }, err instanceof CorruptNeedleError ? "corrupt needle" : "media read failed");
        sendHttp(res, 500, { "content-type": "text/plain; charset=utf-8" }, "internal error\n");
      }
    })();
    return true;
  };
}
