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
    throw invalidArgument([{ field: "", description: `body is not valid JSON: ${(err as Error).message}` }], "request body is not valid JSON");
  }
  return fromJsonValue(schema, json);
}

/** Converts an already parsed JSON value into a message of `schema`. */
export function fromJsonValue(schema: DescMessage, json: unknown): Message {
  try {
    return fromJson(schema, json as never);
  } catch (err) {
    const cause = (err as Error).cause;
    if (isFieldError(cause)) {
      const f = cause.field();
      throw invalidArgument([{ field: f.name, description: cause.message }]);
    }
    const unknownKey = /key "([^"]+)" is unknown/.exec((err as Error).message);
    if (unknownKey) throw invalidArgument([{ field: unknownKey[1]!, description: "unknown field" }]);
    throw invalidArgument([{ field: "", description: (err as Error).message }]);
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
