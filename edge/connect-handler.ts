/**
 * The Connect protocol at the edge (https://connectrpc.com/docs/protocol), unary calls:
 * `POST /<package>.<Service>/<Method>` with `application/json` or `application/proto`,
 * and `GET` with `?encoding=json&message=...` for methods marked NO_SIDE_EFFECTS. The
 * edge decodes the request (so bad input never reaches a service), checks the bearer
 * token against the method's access level, and calls the service over the mesh.
 */
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { DescMessage, Message } from "@bufbuild/protobuf";
import { Access } from "#kit/auth.ts";
import { readBody } from "./body.ts";
import { decodeBinary, decodeJson, encodeJson } from "./json-codec.ts";
import type { RoutedMethod } from "./registry.ts";
import { jsonReply, type Reply } from "./reply.ts";
import type { JsonReuse } from "./json-reuse.ts";
import type { UpstreamAnswer } from "./rpc-call.ts";

export type Encoding = "json" | "proto";

/** What a request becomes once the edge has decoded it. */
export interface DecodedCall {
  readonly routed: RoutedMethod;
  readonly message: Message;
  readonly encoding: Encoding;
}

/** Decodes a Connect unary request for `routed`. Throws ConnectErrors for bad input. */
export async function decodeConnectRequest(req: Request, url: URL, routed: RoutedMethod, maxBodyBytes: number): Promise<DecodedCall> {
  const input = routed.method.input as DescMessage;
  if (routed.method.methodKind !== "unary") {
    throw new ConnectError(`${routed.path} is a streaming method; use a Connect streaming client`, Code.Unimplemented);
  }
  if (req.method === "GET") {
    if (routed.method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) {
      throw new ConnectError(`GET is only allowed for side-effect-free methods`, Code.InvalidArgument);
    }
    const encoding = url.searchParams.get("encoding") ?? "json";
    const raw = url.searchParams.get("message") ?? "";
    const bytes = url.searchParams.get("base64") === "1" ? Buffer.from(raw, "base64url") : new TextEncoder().encode(raw);
    if (encoding === "json") return { routed, message: decodeJson(input, bytes), encoding: "json" };
    if (encoding === "proto") return { routed, message: decodeBinary(input, bytes), encoding: "proto" };
    throw new ConnectError(`unsupported encoding "${encoding}"`, Code.InvalidArgument);
  }
  const contentType = (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  const encoding: Encoding | undefined =
    contentType === "application/json" ? "json" : contentType === "application/proto" ? "proto" : undefined;
  if (!encoding) {
    throw new ConnectError(`unsupported content-type "${contentType}"; use application/json or application/proto`, Code.InvalidArgument);
  }
  const body = await readBody(req, maxBodyBytes);
  const message = encoding === "json" ? decodeJson(input, body) : decodeBinary(input, body);
  return { routed, message, encoding };
}

/** Throws unless a caller (null: no token) may call a method of `access` through the edge. */
export function requireAccess(access: Access, user: { readonly roles: readonly string[] } | null): void {
  if (access === Access.PUBLIC) return;
  if (user === null) throw new ConnectError("this call needs `Authorization: Bearer <access token>`", Code.Unauthenticated);
  if (access === Access.ADMIN && !user.roles.includes("admin")) throw new ConnectError("this call needs an admin", Code.PermissionDenied);
  if (access === Access.MODERATOR && !user.roles.includes("moderator") && !user.roles.includes("admin")) {
    throw new ConnectError("this call needs a moderator", Code.PermissionDenied);
  }
}

/**
 * Encodes a successful unary answer in the request's encoding: binary Protobuf as the
 * upstream sent it, JSON rendered (or reused, json-reuse.ts) from its bytes.
 */
export function connectReply(call: Pick<DecodedCall, "routed" | "encoding">, answer: UpstreamAnswer, headers: Record<string, string>, reuse: JsonReuse): Reply {
  const output = call.routed.method.output as DescMessage;
  if (call.encoding === "json") return jsonReply(200, answer.json ?? reuse.json(call.routed, "", answer.bytes, () => encodeJson(output, answer.message)), headers);
  return { status: 200, headers: { "content-type": "application/proto", ...headers }, body: answer.bytes };
}

/** Deadline for the upstream call: the client's `connect-timeout-ms` (or `x-server-timeout`, seconds), capped. */
export function requestTimeoutMs(req: Request, defaultMs: number, maxMs: number): number {
  const connect = req.headers.get("connect-timeout-ms");
  const server = req.headers.get("x-server-timeout");
  let ms = defaultMs;
  if (connect !== null && /^[0-9]{1,10}$/.test(connect)) ms = Number(connect);
  else if (server !== null && /^[0-9]+(\.[0-9]+)?$/.test(server)) ms = Math.round(Number(server) * 1000);
  return Math.max(1, Math.min(ms, maxMs));
}
