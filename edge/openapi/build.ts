/**
 * OpenAPI 3.1 from the contracts: one operation per `google.api.http` binding (the same
 * RouteTable the edge routes with), schemas from the messages in their proto3 JSON form
 * (int64 as string, enums by name, well-known types in their JSON forms) with the
 * protovalidate rules as JSON Schema keywords (validate-rules.ts), descriptions from the
 * proto comments, bearer auth on every method that is not ACCESS_PUBLIC, internal
 * methods left out, and errors as the Connect error JSON the edge answers with: 400 and
 * 429 on every operation, 401 where a token is needed, and the statuses of the codes a
 * method's comment names (`Errors: NOT_FOUND (...)`), per Connect's code-to-HTTP table.
 * The edge's own routes (media upload and bytes) are added by hand: they have no proto
 * binding.
 *
 * Checked by scripts/openapi-lint.test.ts with @redocly/cli and spectral (spectral:oas).
 */
import { ScalarType, getOption, type DescEnum, type DescField, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";
import { Code } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { Access, access } from "#gen/oasis/api/v1/access_pb.ts";
import { rateLimitLimitHeader, rateLimitRemainingHeader, rateLimitResetHeader } from "#kit/rate-limit-headers.ts";
import { openApiPath } from "../transcode/path-template.ts";
import type { HttpRoute, RouteTable } from "../transcode/route-table.ts";
import { applyListRules, applyMapRules, applyRules, counted, countingRules, isRequired, oneofRequired, rulesOf } from "./validate-rules.ts";

type Schema = Record<string, unknown>;

const int64s = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64]);

function doc(desc: Parameters<typeof getComments>[0]): string | undefined {
  try {
    const c = getComments(desc).leading?.trim();
    return c ? c.replace(/\n /g, "\n") : undefined;
  } catch {
    return undefined; // no source info (descriptors embedded in generated code)
  }
}

const wellKnown: Record<string, Schema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", pattern: "^-?[0-9]+(\\.[0-9]+)?s$", description: "Seconds with an `s` suffix, e.g. `1.5s`." },
  "google.protobuf.FieldMask": { type: "string", description: "Comma-separated field paths in lowerCamelCase, e.g. `displayName,bio`." },
  "google.protobuf.Empty": { type: "object" },
  "google.protobuf.Struct": { type: "object" },
  "google.protobuf.Value": {},
  "google.protobuf.Any": { type: "object", properties: { "@type": { type: "string" } } },
  "google.protobuf.StringValue": { type: "string" },
  "google.protobuf.BytesValue": { type: "string", contentEncoding: "base64" },
  "google.protobuf.BoolValue": { type: "boolean" },
  "google.protobuf.Int32Value": { type: "integer", format: "int32" },
  "google.protobuf.UInt32Value": { type: "integer", format: "int32" },
  "google.protobuf.Int64Value": { type: "string", format: "int64" },
  "google.protobuf.UInt64Value": { type: "string", format: "int64" },
  "google.protobuf.DoubleValue": { type: "number" },
  "google.protobuf.FloatValue": { type: "number" },
};

class SchemaBuilder {
  readonly components: Record<string, Schema> = {};

  ref(m: DescMessage): Schema {
    const wkt = wellKnown[m.typeName];
    if (wkt) return wkt;
    if (!this.components[m.typeName]) {
      this.components[m.typeName] = {}; // placeholder: recursion
      const properties: Record<string, Schema> = {};
      const required: string[] = [];
      const oneofs = m.oneofs.filter((o) => oneofRequired(o));
      countingRules(() => {
        for (const f of m.fields) {
          properties[f.jsonName] = this.field(f);
          if (isRequired(f)) (required.push(f.jsonName), counted.rules++, counted.keywords++);
        }
        counted.rules += oneofs.length;
      });
      const exactlyOne = oneofs.map((o) => `Exactly one of ${o.fields.map((f) => `\`${f.jsonName}\``).join(", ")} must be set.`).join(" ");
      const description = [doc(m), exactlyOne].filter(Boolean).join("\n\n") || undefined;
      this.components[m.typeName] = { type: "object", description, properties, required: required.length ? required : undefined, additionalProperties: false };
    }
    return { $ref: `#/components/schemas/${m.typeName}` };
  }

  enumSchema(e: DescEnum): Schema {
    return { type: "string", enum: e.values.map((v) => v.name), description: doc(e) };
  }

  scalar(s: ScalarType): Schema {
    if (int64s.has(s)) return { type: "string", format: "int64", description: "64-bit integer as a decimal string." };
    if (s === ScalarType.BOOL) return { type: "boolean" };
    if (s === ScalarType.STRING) return { type: "string" };
    if (s === ScalarType.BYTES) return { type: "string", contentEncoding: "base64" };
    if (s === ScalarType.DOUBLE || s === ScalarType.FLOAT) return { type: "number" };
    return { type: "integer", format: "int32" };
  }

  single(f: DescField): Schema {
    switch (f.fieldKind) {
      case "scalar":
        return this.scalar(f.scalar);
      case "enum":
        return this.enumSchema(f.enum);
      case "message":
        return this.ref(f.message);
      default:
        return {};
    }
  }

  /** The field's schema with its comment and its protovalidate rules. */
  field(f: DescField): Schema {
    let s: Schema;
    const d = doc(f);
    if (f.fieldKind === "list") {
      const item = f.listKind === "scalar" ? this.scalar(f.scalar) : f.listKind === "enum" ? this.enumSchema(f.enum) : this.ref(f.message);
      s = { type: "array", items: item };
      if (d) s.description = d;
      applyListRules(s, rulesOf(f));
    } else if (f.fieldKind === "map") {
      const value = f.mapKind === "scalar" ? this.scalar(f.scalar) : f.mapKind === "enum" ? this.enumSchema(f.enum) : this.ref(f.message);
      s = { type: "object", additionalProperties: value };
      if (d) s.description = d;
      applyMapRules(s, rulesOf(f));
    } else {
      s = { ...this.single(f) };
      if (d) s.description = d;
      applyRules(s, rulesOf(f));
    }
    return s;
  }

  /**
   * The request body of a `body: "*"` route: the input message less the fields bound in
   * the path (they are not sent in the body), as its own schema.
   */
  bodyWithout(m: DescMessage, pathFields: ReadonlySet<string>): Schema {
    const existed = m.typeName in this.components;
    const ref = this.ref(m);
    if (![...pathFields].some((name) => m.fields.some((f) => f.name === name))) return ref;
    const whole = this.components[m.typeName]!;
    if (!existed) delete this.components[m.typeName]; // inlined here; a later ref makes it again
    const drop = new Set(m.fields.filter((f) => pathFields.has(f.name)).map((f) => f.jsonName));
    const properties = Object.fromEntries(Object.entries(whole.properties as Record<string, Schema>).filter(([k]) => !drop.has(k)));
    const required = ((whole.required as string[] | undefined) ?? []).filter((k) => !drop.has(k));
    return { ...whole, properties, required: required.length ? required : undefined };
  }
}

const errorSchema: Schema = {
  type: "object",
  description:
    "Connect error JSON, the body of every error the edge answers with: `code` is the lower_snake gRPC code name; `details` carry google.rpc.ErrorInfo (`reason`: the domain's ErrorReason, `domain`), google.rpc.BadRequest (field violations) and google.rpc.RetryInfo, each with `type`, the base64 `value` and a readable `debug` rendering.",
  properties: {
    code: { type: "string", enum: Object.values(Code).filter((c): c is Code => typeof c === "number").map((c) => codeName(c)), examples: ["invalid_argument", "not_found", "unauthenticated"] },
    message: { type: "string" },
    details: {
      type: "array",
      items: {
        type: "object",
        properties: {
          type: { type: "string", examples: ["google.rpc.ErrorInfo", "google.rpc.BadRequest", "google.rpc.RetryInfo"] },
          value: { type: "string", contentEncoding: "base64" },
          debug: { description: "The detail as proto3 JSON, e.g. `{\"reason\": \"ACCOUNT_NOT_FOUND\", \"domain\": \"identity.oasis\"}` or `{\"fieldViolations\": [{\"field\": \"user_id\", \"description\": \"...\"}]}`." },
        },
        required: ["type", "value"],
      },
    },
  },
  required: ["code"],
};

/** lower_snake name of a Connect code (`not_found`), as in the error JSON. */
function codeName(c: Code): string {
  return Code[c]!.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

const limitHeaders: Record<string, Schema> = {
  "RateLimit-Limit": { $ref: "#/components/headers/RateLimit-Limit" },
  "RateLimit-Remaining": { $ref: "#/components/headers/RateLimit-Remaining" },
  "RateLimit-Reset": { $ref: "#/components/headers/RateLimit-Reset" },
};

/** Header components: the RateLimit fields (kit/rate-limit-headers.ts) and Retry-After. */
const headerComponents: Record<string, Schema> = {
  [canonical(rateLimitLimitHeader)]: { description: "Requests allowed in the window of the route class's tightest limit (draft-ietf-httpapi-ratelimit-headers).", schema: { type: "integer", minimum: 0 } },
  [canonical(rateLimitRemainingHeader)]: { description: "Requests left in the window after this one; 0 on a refusal.", schema: { type: "integer", minimum: 0 } },
  [canonical(rateLimitResetHeader)]: { description: "Seconds until the window's quota is whole again.", schema: { type: "integer", minimum: 0 } },
  "Retry-After": { description: "Seconds to wait before retrying (RFC 9110 section 10.2.3), from google.rpc.RetryInfo.", schema: { type: "integer", minimum: 1 } },
};

function canonical(h: string): string {
  return h.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase()).replace("Ratelimit", "RateLimit");
}

const errorContent = { "application/json": { schema: { $ref: "#/components/schemas/ConnectError" } } };

/** Response components, one per 4xx status the edge answers with. */
const responseComponents: Record<string, Schema> = {
  BadRequest: { description: "invalid_argument, failed_precondition or out_of_range: a field violates its rule (BadRequest detail naming the field), an unknown query parameter, or a body over the limit.", content: errorContent },
  Unauthenticated: { description: "unauthenticated: no bearer token where one is needed, or an expired, malformed or revoked one.", content: errorContent },
  PermissionDenied: { description: "permission_denied: the caller may not do this (ErrorInfo names the reason).", content: errorContent },
  NotFound: { description: "not_found: the resource does not exist or is hidden from the caller (ErrorInfo names the reason).", content: errorContent },
  Conflict: { description: "already_exists or aborted: the resource exists, or a concurrent change won; ErrorInfo names the reason.", content: errorContent },
  TooManyRequests: {
    description: "resource_exhausted: a rate limit of the route class (per user or per IP) or of the service was hit. Retry after Retry-After seconds.",
    headers: { ...limitHeaders, "Retry-After": { $ref: "#/components/headers/Retry-After" } },
    content: errorContent,
  },
};

const responseByStatus: Record<number, string> = { 400: "BadRequest", 401: "Unauthenticated", 403: "PermissionDenied", 404: "NotFound", 409: "Conflict", 429: "TooManyRequests" };

/** The 4xx statuses a method answers with: 400 and 429 always, 401 with a token, and the codes its comment names. */
function errorStatuses(m: DescMethod, needsToken: boolean): number[] {
  const statuses = new Set<number>([400, 429]);
  if (needsToken) statuses.add(401);
  const text = doc(m) ?? "";
  for (const [name, code] of Object.entries(Code)) {
    if (typeof code !== "number") continue;
    const upper = codeName(code).toUpperCase();
    if (new RegExp(`\\b${upper}\\b`).test(text)) statuses.add(codeToHttpStatus(code));
  }
  return [...statuses].filter((st) => responseByStatus[st]).sort((a, b) => a - b);
}

const pascal = (s: string) => s.split(/[_.]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");

/**
 * Path parameter names: the last segment of the field path (`post.post_id` -> `post_id`),
 * so two bindings of one resource share one OpenAPI path; the whole path joined with `_`
 * when two variables would share a name.
 */
function paramNames(route: HttpRoute): string[] {
  const last = route.template.variables.map((v) => v.path[v.path.length - 1]!);
  return last.map((n, i) => (last.indexOf(n) !== last.lastIndexOf(n) ? route.template.variables[i]!.path.join("_") : n));
}

/**
 * operationId: `Service.Method` for a method's `google.api.http` rule; an additional
 * binding adds `By` and its path variables (`IdentityService.GetProfileByHandle`), or its
 * index when it has none.
 */
function operationId(route: HttpRoute, service: DescService): string {
  const base = `${service.name}.${route.method.name}`;
  if (route.binding === 0) return base;
  const vars = route.template.variables.map((v) => pascal(v.path.join("_")));
  return vars.length ? `${base}By${vars.join("And")}` : `${base}${route.binding + 1}`;
}

function operation(b: SchemaBuilder, route: HttpRoute, service: DescService): Schema {
  const m = route.method;
  const level = getOption(m, access);
  const pathFields = new Set(route.template.variables.map((v) => v.path[0]!));
  const names = paramNames(route);
  const parameters: Schema[] = route.template.variables.map((v, i) => {
    let field: DescField | undefined;
    let msg: DescMessage | undefined = m.input;
    for (const name of v.path) {
      field = msg?.fields.find((f) => f.name === name);
      msg = field?.fieldKind === "message" ? field.message : undefined;
    }
    const fills = names[i] !== v.path.join(".") ? `Fills \`${v.path.join(".")}\`.` : undefined;
    const pattern = v.pattern !== "*" ? `Pattern: ${v.pattern}` : undefined;
    const schema = field ? b.field(field) : { type: "string" };
    return { name: names[i], in: "path", required: true, schema, description: [schema.description, fills, pattern].filter(Boolean).join(" ") || undefined };
  });
  if (route.body !== "*") {
    for (const f of m.input.fields) {
      if (pathFields.has(f.name) || f.name === route.body) continue;
      if (f.fieldKind === "message" && !wellKnown[f.message.typeName]) continue;
      const schema = b.field(f);
      parameters.push({ name: f.name, in: "query", required: isRequired(f) || undefined, schema, description: doc(f) });
    }
  }
  const bodyField = route.body && route.body !== "*" ? m.input.fields.find((f) => f.name === route.body) : undefined;
  const responseField = route.responseBody ? m.output.fields.find((f) => f.name === route.responseBody) : undefined;
  const ok =
    m.methodKind === "server_streaming"
      ? {
          description: "Server-Sent Events: one `data:` line per message, each the JSON of the schema in `contentSchema`.",
          headers: limitHeaders,
          content: { "text/event-stream": { schema: { type: "string", contentMediaType: "application/json", contentSchema: b.ref(m.output) } } },
        }
      : { description: "OK", headers: limitHeaders, content: { "application/json": { schema: responseField ? b.field(responseField) : b.ref(m.output) } } };
  const needsToken = level !== Access.PUBLIC;
  const errors = Object.fromEntries(errorStatuses(m, needsToken).map((st) => [String(st), { $ref: `#/components/responses/${responseByStatus[st]}` }]));
  return {
    operationId: operationId(route, service),
    tags: [service.name],
    summary: m.name,
    description: doc(m),
    parameters,
    requestBody: route.body ? { required: route.body !== "*", content: { "application/json": { schema: bodyField ? b.field(bodyField) : b.bodyWithout(m.input, pathFields) } } } : undefined,
    responses: { "200": ok, ...errors, default: { description: "Any other error (5xx: unavailable, deadline_exceeded, internal), as Connect error JSON.", content: errorContent } },
    security: needsToken ? [{ bearerAuth: [] }] : [],
  };
}

/** The edge's own routes (not from proto bindings). */
function edgeRoutes(): Record<string, Schema> {
  const err = {
    "401": { $ref: "#/components/responses/Unauthenticated" },
    "429": { $ref: "#/components/responses/TooManyRequests" },
    default: { description: "Any other error, as Connect error JSON.", content: errorContent },
  };
  return {
    "/v1/media": {
      post: {
        operationId: "Edge.UploadMedia",
        tags: ["MediaService"],
        summary: "Upload an image",
        description: "Raw image bytes (any image Content-Type) or multipart/form-data (the first file part). At most 25 MiB; the bucket's policy may allow less. `Idempotency-Key` makes retries safe.",
        parameters: [
          { name: "bucket", in: "query", schema: { type: "string", default: "post-images" } },
          { name: "Idempotency-Key", in: "header", schema: { type: "string", maxLength: 64 } },
        ],
        requestBody: { required: true, content: { "image/*": { schema: { type: "string", contentEncoding: "binary" } }, "multipart/form-data": { schema: { type: "object", properties: { file: { type: "string", contentEncoding: "binary" } } } } } },
        responses: { "200": { description: "Stored", content: { "application/json": { schema: { $ref: "#/components/schemas/oasis.media.v1.UploadMediaResponse" } } } }, "400": { description: "Not an image the bucket accepts, or a body over 25 MiB (invalid_argument naming the rule or `body`)", content: errorContent }, ...err },
        security: [{ bearerAuth: [] }],
      },
    },
    "/media/{id}/{variant}": {
      get: {
        operationId: "Edge.GetMediaBytes",
        tags: ["MediaService"],
        summary: "Image bytes",
        description: "Immutable bytes of a variant, with ETag, `Cache-Control: immutable`, Range (206) and If-None-Match (304). Unknown or deleted ids are 404.",
        parameters: [
          { name: "id", in: "path", required: true, schema: { type: "string", format: "int64" } },
          { name: "variant", in: "path", required: true, schema: { type: "string", enum: ["thumb", "feed", "orig"] } },
          { name: "Range", in: "header", schema: { type: "string" } },
        ],
        responses: { "200": { description: "The image", content: { "image/*": {} } }, "206": { description: "A range of it" }, "304": { description: "Not modified" }, "404": { description: "Unknown or deleted" }, "416": { description: "Range not satisfiable" } },
        security: [],
      },
    },
  };
}

/** The OpenAPI 3.1 document for `services` routed by `table`. */
export function buildOpenApi(services: readonly DescService[], table: RouteTable, extraSchemas: readonly DescMessage[] = []): Schema {
  const b = new SchemaBuilder();
  const paths: Record<string, Record<string, Schema>> = { ...(edgeRoutes() as Record<string, Record<string, Schema>>) };
  const byMethod = new Map<DescMethod, DescService>();
  for (const s of services) for (const m of s.methods) byMethod.set(m, s);
  for (const route of table.routes) {
    const service = byMethod.get(route.method);
    if (!service || getOption(route.method, access) === Access.INTERNAL) continue;
    const p = openApiPath(route.template, paramNames(route));
    paths[p] ??= {};
    paths[p][route.httpMethod.toLowerCase()] = operation(b, route, service);
  }
  for (const m of extraSchemas) b.ref(m);
  const sortedPaths = Object.fromEntries(Object.entries(paths).sort(([a], [c]) => a.localeCompare(c)));
  const components = Object.fromEntries(Object.entries(b.components).sort(([a], [c]) => a.localeCompare(c)));
  return JSON.parse(
    JSON.stringify({
      openapi: "3.1.0",
      info: {
        title: "Oasis API",
        version: "v1",
        description:
          "The app's API at the edge. Every RPC is also reachable as Connect JSON at `POST /<package>.<Service>/<Method>`. Bearer tokens come from `POST /v1/sessions`.",
      },
      servers: [{ url: "/" }],
      tags: services.map((s) => ({ name: s.name, description: doc(s) })),
      paths: sortedPaths,
      components: {
        schemas: { ...components, ConnectError: errorSchema },
        responses: responseComponents,
        headers: headerComponents,
        securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      },
    }),
  );
}
