/**
 * Errors as the app sees them: the Connect error JSON `{code, message, details}` with
 * the HTTP status Connect maps each code to (unauthenticated 401, permission_denied
 * 403, not_found 404, already_exists 409, invalid_argument 400, resource_exhausted
 * 429, ...; a body over the limit is invalid_argument too). Details carry the type,
 * the base64 value and a `debug` JSON rendering, so curl users can read them.
 */
import { ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJson } from "@connectrpc/connect/protocol-connect";
import { createRegistry, fromBinary } from "@bufbuild/protobuf";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "#gen/google/rpc/error_details_pb.ts";
import type { Reply } from "./reply.ts";

const detailTypes = createRegistry(ErrorInfoSchema, BadRequestSchema, RetryInfoSchema);

/** A JSON error reply for `err` (anything thrown), with extra headers. */
export function errorReply(err: unknown, headers: Record<string, string> = {}, status?: number): Reply {
  const ce = ConnectError.from(err);
  // Details relayed from a service arrive as raw {type, value}; decode the ones we know
  // so the JSON carries a readable `debug` rendering as well.
  ce.details = ce.details.map((d) => {
    if ("desc" in d) return d;
    const desc = detailTypes.getMessage(d.type);
    return desc ? { desc, value: fromBinary(desc, d.value) } : d;
  });
  const h: Record<string, string> = { "content-type": "application/json", ...headers };
  const retry = ce.findDetails(RetryInfoSchema)[0]?.retryDelay;
  if (retry && !h["retry-after"]) h["retry-after"] = String(Math.max(1, Math.ceil(Number(retry.seconds) + retry.nanos / 1e9)));
  return {
    status: status ?? codeToHttpStatus(ce.code),
    headers: h,
    body: JSON.stringify(errorToJson(ce, { registry: detailTypes })),
    compressible: true,
  };
}
