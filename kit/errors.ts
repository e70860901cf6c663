/**
 * Domain errors as ConnectErrors with a `google.rpc.ErrorInfo` detail, following
 * AIP-193: `reason` is the domain's ErrorReason enum value name without its
 * `ERROR_REASON_` prefix (e.g. `HANDLE_TAKEN`), `domain` is `<service>.oasis`, and
 * `metadata` holds the values a client needs (ids, limits), all strings.
 *
 * Bad input is `invalid_argument` with a `google.rpc.BadRequest` listing field
 * violations; the message names the fields too, for humans reading logs or curl output.
 */
import { create, type DescEnum } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  BadRequestSchema,
  BadRequest_FieldViolationSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "#gen/google/rpc/error_details_pb.ts";
import type { Logger } from "./logger.ts";

export { Code, ConnectError };

/** One bad field: a dotted path in proto field names (`profile.display_name`) and why. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
  /** Optional machine-readable rule id (protovalidate's, e.g. `string.min_len`). */
  readonly reason?: string;
}

export type ErrorMetadata = Record<string, string | number | bigint | boolean>;

/** Builds `invalid_argument` with BadRequest field violations. */
export function invalidArgument(violations: readonly FieldViolation[], summary?: string): ConnectError {
  const message =
    summary ?? `invalid request: ${violations.map((v) => `${v.field}: ${v.description}`).join("; ")}`;
  return new ConnectError(message, Code.InvalidArgument, undefined, [
    {
      desc: BadRequestSchema,
      value: {
        fieldViolations: violations.map((v) =>
          create(BadRequest_FieldViolationSchema, { field: v.field, description: v.description, reason: v.reason ?? "" }),
        ),
      },
    },
  ]);
}

/** The typed error constructors of one domain. */
export interface DomainErrors<R extends number> {
  /** `<service>.oasis`, the ErrorInfo domain. */
  readonly domain: string;
  /** Any code with a reason. */
  fail(code: Code, reason: R, message: string, metadata?: ErrorMetadata): ConnectError;
  notFound(reason: R, message: string, metadata?: ErrorMetadata): ConnectError;
  alreadyExists(reason: R, message: string, metadata?: ErrorMetadata): ConnectError;
  permissionDenied(reason: R, message: string, metadata?: ErrorMetadata): ConnectError;
  unauthenticated(reason: R, message: string, metadata?: ErrorMetadata): ConnectError;
  failedPrecondition(reason: R, message: string, metadata?: ErrorMetadata): ConnectError;
  /** `resource_exhausted` with a RetryInfo telling the client when to retry. */
  exhausted(reason: R, message: string, retryAfterMs: number, metadata?: ErrorMetadata): ConnectError;
  /** `invalid_argument` with both the reason and field violations. */
  invalid(reason: R, violations: readonly FieldViolation[], metadata?: ErrorMetadata): ConnectError;
}

/** The reason string for an enum value: `ERROR_REASON_HANDLE_TAKEN` -> `HANDLE_TAKEN`. */
export function reasonName(reasons: DescEnum, value: number): string {
  const v = reasons.values.find((x) => x.number === value);
  if (!v) return "UNKNOWN";
  // buf's ENUM_VALUE_PREFIX rule makes every value start with the enum's name in
  // UPPER_SNAKE_CASE; the reason clients see is the part after it.
  const prefix = `${reasons.name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}_`;
  return v.name.startsWith(prefix) ? v.name.slice(prefix.length) : v.name;
}

function stringify(metadata: ErrorMetadata | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata ?? {})) out[k] = String(v);
  return out;
}

/**
 * Error constructors for one domain's ErrorReason enum.
 * Usage: `const errors = domainErrors("identity", ErrorReasonSchema);`
 * then `throw errors.alreadyExists(ErrorReason.HANDLE_TAKEN, "handle is taken", { handle })`.
 */
export function domainErrors<R extends number>(service: string, reasons: DescEnum): DomainErrors<R> {
  const domain = `${service}.oasis`;
  const info = (reason: R, metadata?: ErrorMetadata) => ({
    desc: ErrorInfoSchema,
    value: { reason: reasonName(reasons, reason), domain, metadata: stringify(metadata) },
  });
  const fail = (code: Code, reason: R, message: string, metadata?: ErrorMetadata) =>
    new ConnectError(message, code, undefined, [info(reason, metadata)]);
  return {
    domain,
    fail,
    notFound: (r, m, md) => fail(Code.NotFound, r, m, md),
    alreadyExists: (r, m, md) => fail(Code.AlreadyExists, r, m, md),
    permissionDenied: (r, m, md) => fail(Code.PermissionDenied, r, m, md),
    unauthenticated: (r, m, md) => fail(Code.Unauthenticated, r, m, md),
    failedPrecondition: (r, m, md) => fail(Code.FailedPrecondition, r, m, md),
    exhausted: (r, m, retryAfterMs, md) =>
      new ConnectError(m, Code.ResourceExhausted, undefined, [
        info(r, { ...md, retry_after_ms: Math.ceil(retryAfterMs) }),
        { desc: RetryInfoSchema, value: { retryDelay: durationFromMs(Math.ceil(retryAfterMs)) } },
      ]),
    invalid: (r, violations, md) => {
      const err = invalidArgument(violations);
      err.details.push(info(r, md));
      return err;
    },
  };
}

/** The ErrorInfo reason of an error, if it carries one (for tests and callers). */
export function errorReason(err: unknown): string | undefined {
  const ce = ConnectError.from(err);
  return ce.findDetails(ErrorInfoSchema)[0]?.reason;
}

/** The field paths named by an error's BadRequest detail. */
export function violatedFields(err: unknown): string[] {
  const ce = ConnectError.from(err);
  return ce.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations.map((v) => v.field));
}

/**
 * Server interceptor: ConnectErrors pass through; anything else is logged with the
 * request id (by the logger's mixin) and becomes `internal` with no internals, so stack
 * traces, SQL and hostnames never reach a client.
 */
export function errorInterceptor(log: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (err) {
      if (err instanceof ConnectError) throw err;
      log.error({ err, method: req.method.name }, "unexpected error");
      throw new ConnectError("internal error", Code.Internal);
    }
  };
}
