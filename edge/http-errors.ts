/**
 * Errors as the app sees them: the Connect error JSON `{code, message, details}` with
 * the HTTP status Connect maps each code to (unauthenticated 401, permission_denied
 * 403, not_found 404, already_exists 409, invalid_argument 400, ...). Details carry
 * the type, the base64 value and a `debug` JSON rendering, so curl users can read them.
 */
import { ConnectError } from "@connectrpc/connect";
import { isBodyTooLarge } from "./body.ts";
import { codeToHttpStatus, errorToJson } from "@connectrpc/connect/protocol-connect";
import { createRegistry, fromBinary } from "@bufbuild/protobuf";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "#gen/google/rpc/error_details_pb.ts";

const detailTypes = createRegistry(ErrorInfoSchema, BadRequestSchema, RetryInfoSchema);

/** A JSON error response for `err` (anything thrown), with extra headers. */
export function errorResponse(err: unknown, headers: Record<string, string> = {}): Response {
  const ce = ConnectError.from(err);
  const status = isBodyTooLarge(err) ? 413 : codeToHttpStatus(ce.code);
  // Details relayed from a service arrive as raw {type, value}; decode the ones we know
  // so the JSON carries a readable `debug` rendering as well.
  ce.details = ce.details.map((d) => {
    if ("desc" in d) return d;
    const desc = detailTypes.getMessage(d.type);
    return desc ? { desc, value: fromBinary(desc, d.value) } : d;
  });
  const body = errorToJson(ce, { registry: detailTypes });
  const h: Record<string, string> = { "content-type": "application/json", ...headers };
  const retry = ce.findDetails(RetryInfoSchema)[0]?.retryDelay;
  if (retry) h["retry-after"] = String(Math.max(1, Math.ceil(Number(retry.seconds) + retry.nanos / 1e9)));
  return new Response(JSON.stringify(body), { status, headers: h });
}
