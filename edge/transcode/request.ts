/**
 * Building a request message from an HTTP request, by the rules of
 * google/api/http.proto (as in vanguard-go and grpc-gateway):
 * - path variables set the fields they name (nested paths allowed), converted from text
 *   to the field's type; they win over the same field in the body;
 * - `body: "*"`: the JSON body is the whole message, and no query parameters are allowed;
 * - `body: "<field>"`: the JSON body is that field; other fields come from the query;
 * - no body: every field not in the path comes from query parameters, `a.b=1` for nested
 *   fields, repeated fields by repeating the parameter, enums by name or number, and the
 *   well-known types in their proto3 JSON text forms (Timestamp, Duration, FieldMask
 *   "a,b", wrappers). A query parameter naming no field is an error, and so is a body
 *   on a method without one.
 * Everything is assembled as a proto3 JSON object and parsed once, so bad values are
 * reported exactly like bad JSON bodies: invalid_argument naming the field.
 */
import { ScalarType, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { invalidArgument } from "#kit/errors.ts";
import { fromJsonValue } from "../json-codec.ts";
import type { HttpRoute } from "./route-table.ts";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** WKT messages that have a single-value (string) JSON form. */
const stringFormed = new Set([
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.FieldMask",
  "google.protobuf.StringValue",
  "google.protobuf.BytesValue",
  "google.protobuf.Int64Value",
  "google.protobuf.UInt64Value",
  "google.protobuf.Int32Value",
  "google.protobuf.UInt32Value",
  "google.protobuf.DoubleValue",
  "google.protobuf.FloatValue",
]);

/** Resolves a dotted path of field names (proto or JSON names) against a message. */
function resolve(schema: DescMessage, path: string[]): DescField[] | undefined {
  const out: DescField[] = [];
  let msg: DescMessage | undefined = schema;
  for (const name of path) {
    if (!msg) return undefined;
    const f: DescField | undefined = msg.fields.find((x) => x.name === name || x.jsonName === name);
    if (!f) return undefined;
    out.push(f);
    msg = f.fieldKind === "message" ? f.message : undefined;
  }
  return out;
}

/** Converts one text value to the JSON value a field of this type accepts. */
function textToJson(field: DescField, text: string, param: string): Json {
  const bad = (what: string) => invalidArgument([{ field: param, description: `"${text}" is not ${what}` }]);
  if (field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")) {
    return /^-?\d+$/.test(text) ? Number(text) : text;
  }
  const message = field.fieldKind === "message" ? field.message : field.fieldKind === "list" && field.listKind === "message" ? field.message : undefined;
  if (message) {
    if (message.typeName === "google.protobuf.FieldMask") {
      // URLs usually carry proto names (update_mask=display_name); JSON wants lowerCamelCase.
      return text
        .split(",")
        .map((p) => p.split(".").map((seg) => seg.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())).join("."))
        .join(",");
    }
    if (message.typeName === "google.protobuf.BoolValue") {
      if (text !== "true" && text !== "false") throw bad("true or false");
      return text === "true";
    }
    if (stringFormed.has(message.typeName)) return text;
    throw invalidArgument([{ field: param, description: `is a message; set its fields as ${param}.<field>` }]);
  }
  const scalar = field.fieldKind === "scalar" ? field.scalar : field.fieldKind === "list" ? field.scalar : undefined;
  if (scalar === ScalarType.BOOL) {
    if (text !== "true" && text !== "false") throw bad("true or false");
    return text === "true";
  }
  if (scalar === ScalarType.STRING || scalar === ScalarType.BYTES) return text;
  if (scalar !== undefined) return text; // numbers: proto3 JSON accepts decimal strings
  throw invalidArgument([{ field: param, description: "cannot be set from the URL" }]);
}

/** Sets `value` at `path` in a JSON object, creating nested objects. */
function setAt(target: { [k: string]: Json }, fields: DescField[], value: Json, append: boolean): void {
  let obj = target;
  for (const f of fields.slice(0, -1)) {
    const next = obj[f.jsonName];
    if (typeof next !== "object" || next === null || Array.isArray(next)) obj[f.jsonName] = {};
    obj = obj[f.jsonName] as { [k: string]: Json };
  }
  const last = fields.at(-1)!;
  if (append) {
    const cur = obj[last.jsonName];
    obj[last.jsonName] = Array.isArray(cur) ? [...cur, value] : [value];
  } else obj[last.jsonName] = value;
}

/**
 * The request message for `route` from path variables, query and (already read) body
 * bytes. Throws `invalid_argument` naming the offending field or parameter.
 */
export function buildRequest(route: HttpRoute, vars: Map<string, string>, query: URLSearchParams, body: Uint8Array): Message {
  const schema = route.method.input as DescMessage;
  let json: { [k: string]: Json } = {};
  const hasBody = body.byteLength > 0 && new TextDecoder().decode(body).trim() !== "";
  if (route.body === "") {
    if (hasBody) throw invalidArgument([{ field: "", description: `${route.httpMethod} ${route.template.source} takes no request body` }]);
  } else {
    let parsed: Json = {};
    if (hasBody) {
      try {
        parsed = JSON.parse(new TextDecoder().decode(body)) as Json;
      } catch (err) {
        throw invalidArgument([{ field: "", description: `body is not valid JSON: ${(err as Error).message}` }], "request body is not valid JSON");
      }
    }
    if (route.body === "*") {
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw invalidArgument([{ field: "", description: "body must be a JSON object" }]);
      json = parsed;
    } else {
      const f = resolve(schema, [route.body]);
      if (!f) throw new Error(`body field ${route.body} not in ${schema.typeName}`);
      json[f[0]!.jsonName] = parsed;
    }
  }
  const bound = new Set<string>();
  for (const [path, value] of vars) {
    const fields = resolve(schema, path.split("."));
    if (!fields) throw new Error(`path variable ${path} not in ${schema.typeName}`);
    setAt(json, fields, textToJson(fields.at(-1)!, value, path), false);
    bound.add(fields.map((f) => f.name).join("."));
  }
  if (route.body === "*" && [...query.keys()].length) {
    throw invalidArgument([{ field: [...query.keys()][0]!, description: "query parameters are not allowed: the whole request is the body" }]);
  }
  for (const key of new Set(query.keys())) {
    const fields = resolve(schema, key.split("."));
    if (!fields) throw invalidArgument([{ field: key, description: "is not a field of this request" }]);
    const name = fields.map((f) => f.name).join(".");
    if (bound.has(name)) continue; // the path wins
    if (route.body !== "" && route.body !== "*" && fields[0]!.name === route.body) {
      throw invalidArgument([{ field: key, description: "is part of the body" }]);
    }
    const last = fields.at(-1)!;
    const values = query.getAll(key);
    if (last.fieldKind === "list") for (const v of values) setAt(json, fields, textToJson(last, v, key), true);
    else {
      if (values.length > 1) throw invalidArgument([{ field: key, description: "is not repeated; give it once" }]);
      setAt(json, fields, textToJson(last, values[0]!, key), false);
    }
  }
  return fromJsonValue(schema, json);
}
