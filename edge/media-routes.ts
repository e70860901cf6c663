/**
 * The edge's media routes.
 * - `POST /v1/media?bucket=post-images`: upload an image as the raw body (any image
 *   Content-Type) or as multipart/form-data (the first file part). A bearer token is
 *   required; the upload rate limit applies; `Idempotency-Key` makes a retry safe. The
 *   body limit (25 MiB) is enforced before reading: a larger Content-Length is refused
 *   without reading the body, a chunked body is cut off at the limit. Answers
 *   `{media: {id, width, height, blurhash, variants: {thumb, feed, orig}, ...}}`.
 * - `GET|HEAD /media/{id}/{variant}`: the bytes, from the media service, with its
 *   Content-Type, ETag, immutable Cache-Control, Range and 304 handling passed through.
 *   The query string goes along: private buckets' bytes need its signature (`exp`, `sig`).
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { UploadMediaRequestSchema } from "#gen/oasis/media/v1/media_service_pb.ts";
import type { EdgeDeps, EdgeRoute, Routed } from "./app.ts";
import type { RequestContext } from "./request-context.ts";
import { readBody } from "./body.ts";
import { encodeJson } from "./json-codec.ts";
import { errorReply } from "./http-errors.ts";
import type { Reply } from "./reply.ts";
import { jsonReply } from "./reply.ts";
import { runRpc } from "./rpc-call.ts";

/** Largest upload the edge reads, bytes; buckets set smaller limits of their own. */
export const maxUploadBytes = 25 * 1024 * 1024;

const uploadPath = "/oasis.media.v1.MediaService/UploadMedia";
const bytesPath = /^\/media\/[1-9][0-9]{0,18}\/(thumb|feed|orig)$/;
const passHeaders = ["content-type", "content-length", "etag", "cache-control", "accept-ranges", "content-range", "last-modified"];

async function fileFromBody(body: Uint8Array, contentType: string): Promise<{ data: Uint8Array; type: string }> {
  if (!contentType.toLowerCase().startsWith("multipart/form-data")) return { data: body, type: contentType };
  let form: Awaited<ReturnType<Response["formData"]>>;
  try {
    form = await new Response(body, { headers: { "content-type": contentType } }).formData();
  } catch {
    throw new ConnectError("multipart body cannot be parsed", Code.InvalidArgument);
  }
  for (const value of form.values() as Iterable<string | Blob>) {
    if (typeof value !== "string") return { data: new Uint8Array(await value.arrayBuffer()), type: value.type };
  }
  throw new ConnectError("multipart body has no file part", Code.InvalidArgument);
}

export function mediaRoutes(deps: EdgeDeps): EdgeRoute[] {
  const upload: EdgeRoute = (ctx) => (ctx.url.pathname !== "/v1/media" ? undefined : uploaded(ctx));
  const uploaded = async (ctx: RequestContext): Promise<Routed> => {
    if (ctx.req.method !== "POST") {
      return { reply: errorReply(new ConnectError("use POST to upload", Code.Unimplemented), { allow: "POST" }, 405), route: "/v1/media" };
    }
    const routed = deps.registry.method(uploadPath);
    if (!routed) return { reply: errorReply(new ConnectError("media is not deployed behind this edge", Code.Unavailable)), route: "/v1/media" };
    const reply = await runRpc(
      deps,
      ctx,
      routed,
      async () => {
        const body = await readBody(ctx.req, maxUploadBytes);
        const file = await fileFromBody(body, ctx.req.headers.get("content-type") ?? "");
        return create(UploadMediaRequestSchema, {
          bucket: ctx.url.searchParams.get("bucket") ?? "post-images",
          data: file.data,
          declaredContentType: file.type.slice(0, 128),
          requestId: (ctx.req.headers.get("idempotency-key") ?? "").slice(0, 64),
        });
      },
      (answer, headers) => jsonReply(200, encodeJson(routed.method.output, answer.message), headers),
      "upload",
    );
    return { reply, route: "/v1/media" };
  };

  const bytes: EdgeRoute = (ctx) => (!bytesPath.test(ctx.url.pathname) ? undefined : served(ctx));
  const served = async (ctx: RequestContext): Promise<Routed> => {
    const route = "/media/{id}/{variant}";
    if (ctx.req.method !== "GET" && ctx.req.method !== "HEAD") {
      return { reply: errorReply(new ConnectError("method not allowed", Code.Unimplemented), { allow: "GET, HEAD" }, 405), route };
    }
    ctx.facts.upstream = "media";
    const forward: Record<string, string> = {};
    for (const h of ["range", "if-none-match"]) {
      const v = ctx.req.headers.get(h);
      if (v) forward[h] = v;
    }
    try {
      const res = await deps.upstreams.get("media", ctx.req.method, ctx.url.pathname + ctx.url.search, forward, deps.config.defaultTimeoutMs);
      const headers: Record<string, string> = {};
      for (const h of passHeaders) {
        const v = res.headers[h];
        if (typeof v === "string") headers[h] = v;
      }
      const reply: Reply = { status: res.status, headers, body: ctx.req.method === "HEAD" || res.status === 304 ? null : res.body };
      return { reply, route };
    } catch (err) {
      return { reply: errorReply(err), route };
    }
  };

  return [upload, bytes];
}
