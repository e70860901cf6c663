/**
 * OpenAPI 3.1 from the contracts: one operation per `google.api.http` binding (the same
 * RouteTable the edge routes with), schemas from the messages in their proto3 JSON form
 * (int64 as string, enums by name, well-known types in their JSON forms), descriptions
 * from the proto comments, bearer auth on every method that is not ACCESS_PUBLIC,
 * internal methods left out, and errors as the Connect error JSON. The edge's own routes
 * (media upload and bytes) are added by hand: they have no proto binding.
 */
import { ScalarType, getOption, type DescEnum, type DescField, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";
import { Access, access } from "#gen/oasis/api/v1/access_pb.ts";
import { openApiPath } from "../transcode/path-template.ts";
import type { HttpRoute, RouteTable } from "../transcode/route-table.ts";

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
      for (const f of m.fields) properties[f.jsonName] = this.field(f);
      this.components[m.typeName] = { type: "object", description: doc(m), properties, additionalProperties: false };
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

  field(f: DescField): Schema {
    let s: Schema;
    if (f.fieldKind === "list") {
      const item = f.listKind === "scalar" ? this.scalar(f.scalar) : f.listKind === "enum" ? this.enumSchema(f.enum) : this.ref(f.message);
      s = { type: "array", items: item };
    } else if (f.fieldKind === "map") {
      const value = f.mapKind === "scalar" ? this.scalar(f.scalar) : f.mapKind === "enum" ? this.enumSchema(f.enum) : this.ref(f.message);
      s = { type: "object", additionalProperties: value };
    } else s = this.single(f);
    const d = doc(f);
    return d ? { ...s, description: d } : s;
  }
}

const errorSchema: Schema = {
  type: "object",
  description: "Connect error: `code` is the lower_snake gRPC code name; `details` carry google.rpc.ErrorInfo (reason, domain) and google.rpc.BadRequest (field violations), each with a readable `debug`.",
  properties: {
    code: { type: "string", examples: ["invalid_argument", "not_found", "unauthenticated"] },
    message: { type: "string" },
    details: { type: "array", items: { type: "object", properties: { type: { type: "string" }, value: { type: "string" }, debug: {} } } },
  },
  required: ["code"],
};

function operation(b: SchemaBuilder, route: HttpRoute, service: DescService): Schema {
  const m = route.method;
  const level = getOption(m, access);
  const pathFields = new Set(route.template.variables.map((v) => v.path[0]));
  const parameters: Schema[] = route.template.variables.map((v) => {
    let field: DescField | undefined;
    let msg: DescMessage | undefined = m.input;
    for (const name of v.path) {
      field = msg?.fields.find((f) => f.name === name);
      msg = field?.fieldKind === "message" ? field.message : undefined;
    }
    return { name: v.path.join("."), in: "path", required: true, schema: field ? b.field(field) : { type: "string" }, description: v.pattern !== "*" ? `Pattern: ${v.pattern}` : undefined };
  });
  if (route.body !== "*") {
    for (const f of m.input.fields) {
      if (pathFields.has(f.name) || f.name === route.body) continue;
      if (f.fieldKind === "message" && !wellKnown[f.message.typeName]) continue;
      parameters.push({ name: f.name, in: "query", required: false, schema: b.field(f), description: doc(f) });
    }
  }
  const bodyField = route.body && route.body !== "*" ? m.input.fields.find((f) => f.name === route.body) : undefined;
  const responseField = route.responseBody ? m.output.fields.find((f) => f.name === route.responseBody) : undefined;
  const ok =
    m.methodKind === "server_streaming"
      ? { description: "Server-Sent Events: one `data:` line per message.", content: { "text/event-stream": { schema: { type: "string" }, itemSchema: b.ref(m.output) } } }
      : { description: "OK", content: { "application/json": { schema: responseField ? b.field(responseField) : b.ref(m.output) } } };
  return {
    operationId: `${service.name}.${m.name}`,
    tags: [service.name],
    summary: m.name,
    description: doc(m),
    parameters,
    requestBody: route.body ? { required: route.body !== "*", content: { "application/json": { schema: bodyField ? b.field(bodyField) : b.ref(m.input) } } } : undefined,
    responses: { "200": ok, default: { description: "Error", content: { "application/json": { schema: { $ref: "#/components/schemas/ConnectError" } } } } },
    security: level === Access.PUBLIC ? [] : [{ bearerAuth: [] }],
  };
}

/** The edge's own routes (not from proto bindings). */
function edgeRoutes(): Record<string, Schema> {
  const err = { default: { description: "Error", content: { "application/json": { schema: { $ref: "#/components/schemas/ConnectError" } } } } };
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
        responses: { "200": { description: "Stored", content: { "application/json": { schema: { $ref: "#/components/schemas/oasis.media.v1.UploadMediaResponse" } } } }, "400": { description: "Not an image the bucket accepts, or a body over 25 MiB (invalid_argument naming the rule or `body`)", content: { "application/json": { schema: { $ref: "#/components/schemas/ConnectError" } } } }, ...err },
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
        responses: { "200": { description: "The image", content: { "image/*": {} } }, "206": { description: "A range of it" }, "304": { description: "Not modified" }, "404": { description: "Unknown or deleted" } },
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
    const p = openApiPath(route.template);
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
      components: { schemas: { ...components, ConnectError: errorSchema }, securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
    }),
  );
}
