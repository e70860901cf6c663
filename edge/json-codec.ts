/**
 * JSON <-> Protobuf at the edge, with input errors turned into `invalid_argument` +
 * BadRequest naming the field, as services do for rule violations.
 */
import { fromBinary, fromJson, toBinary, toJson, type DescMessage, type Message } from "@bufbuild/protobuf";
import { isFieldError } from "@bufbuild/protobuf/reflect";
import { invalidArgument } from "#kit/errors.ts";

/** proto3 JSON options for responses: lowerCamelCase names, defaults omitted (Connect's defaults). */
const writeOptions = { alwaysEmitImplicit: false } as const;

/** Parses a JSON body into a message of `schema`. */
export function decodeJson(schema: DescMessage, bytes: Uint8Array): Message {
  let json: unknown;
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  try {
    json = text.trim() === "" ? {} : JSON.parse(text);
  } catch (err) {
    throw invalidArgument([{ field: "body", description: `body is not valid JSON: ${(err as Error).message}` }], "request body is not valid JSON");
  }
  return fromJsonValue(schema, json);
}

/**
 * The dotted proto path of the first field of `json` that does not parse, found by
 * parsing its members one at a time (protobuf-es reports enum and well-known-type
 * errors without the field they occurred in).
 */
function failingPath(schema: DescMessage, json: unknown, prefix = ""): string | undefined {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  for (const [key, value] of Object.entries(json)) {
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    if (!field) continue;
    try {
      fromJson(schema, { [key]: value } as never);
    } catch {
      const here = `${prefix}${field.name}`;
      if (field.fieldKind === "message" && !field.message.typeName.startsWith("google.protobuf.")) {
        return failingPath(field.message, value, `${here}.`) ?? here;
      }
      return here;
    }
  }
  return undefined;
}

/** Converts an already parsed JSON value into a message of `schema`. */
export function fromJsonValue(schema: DescMessage, json: unknown): Message {
  try {
    return fromJson(schema, json as never);
  } catch (err) {
    const message = (err as Error).message;
    const cause = (err as Error).cause;
    if (isFieldError(cause)) {
      const f = cause.field();
      throw invalidArgument([{ field: failingPath(schema, json) ?? f.name, description: cause.message }]);
    }
    const unknownKey = /key "([^"]+)" is unknown/.exec(message);
    if (unknownKey) throw invalidArgument([{ field: unknownKey[1]!, description: "unknown field" }]);
    throw invalidArgument([{ field: failingPath(schema, json) ?? "", description: message }]);
  }
}

export function decodeBinary(schema: DescMessage, bytes: Uint8Array): Message {
  try {
    return fromBinary(schema, bytes);
  } catch (err) {
    throw invalidArgument([{ field: "", description: `body is not a valid ${schema.typeName}: ${(err as Error).message}` }]);
  }
}

export function encodeJson(schema: DescMessage, message: Message): string {
  return JSON.stringify(toJson(schema, message as never, writeOptions));
}

export function encodeBinary(schema: DescMessage, message: Message): Uint8Array {
  return toBinary(schema, message as never);
}
