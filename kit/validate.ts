/**
 * Enforces the protovalidate rules written in the contracts (`(buf.validate.field)`)
 * on every request before a handler runs, so handlers see only well-formed input and
 * clients get `invalid_argument` with one BadRequest field violation per broken rule.
 */
import { createValidator, type Violation } from "@bufbuild/protovalidate";
import { pathToString } from "@bufbuild/protobuf/reflect";
import type { DescMessage, Message } from "@bufbuild/protobuf";
import { type Interceptor } from "@connectrpc/connect";
import { invalidArgument, type FieldViolation } from "./errors.ts";

const validator = createValidator();

function toFieldViolation(v: Violation): FieldViolation {
  return { field: pathToString(v.field), description: v.message, reason: v.ruleId };
}

/** Validates one message; throws `invalid_argument` with field violations. */
export function validateMessage(schema: DescMessage, message: Message): void {
  const result = validator.validate(schema, message);
  if (result.kind === "valid") return;
  if (result.kind === "invalid") {
    const violations = result.violations.map(toFieldViolation);
    throw invalidArgument(violations, `invalid ${schema.name}: ${violations.map((v) => `${v.field}: ${v.description}`).join("; ")}`);
  }
  // A rule that cannot be evaluated is our bug, not the caller's.
  throw result.error;
}

async function* validateEach(schema: DescMessage, stream: AsyncIterable<Message>): AsyncIterable<Message> {
  for await (const m of stream) {
    validateMessage(schema, m);
    yield m;
  }
}

/** Server interceptor validating unary requests and every message of request streams. */
export const validationInterceptor: Interceptor = (next) => async (req) => {
  if (!req.stream) {
    validateMessage(req.method.input, req.message);
    return next(req);
  }
  return next({ ...req, message: validateEach(req.method.input, req.message) });
};
