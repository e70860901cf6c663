/**
 * REST at the edge: every RPC with a `google.api.http` binding is served at its path
 * (transcode/), through the same steps as Connect calls (rpc-call.ts). Responses are
 * proto3 JSON (lowerCamelCase names), or only the `response_body` field when the
 * binding names one. Unknown paths are 404 and known paths with the wrong method 405
 * with an Allow header, both as JSON errors.
 */
import { toJson, type DescMessage, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { EdgeDeps, EdgeRoute } from "./app.ts";
import { readBody } from "./body.ts";
import { errorReply } from "./http-errors.ts";
import { jsonReply } from "./reply.ts";
import { runRpc } from "./rpc-call.ts";
import { buildRequest } from "./transcode/request.ts";
import type { HttpRoute, RouteTable } from "./transcode/route-table.ts";

/** The JSON of a response, or of its `response_body` field. */
export function responseJson(route: HttpRoute, message: Message): string {
  const json = toJson(route.method.output as DescMessage, message as never) as Record<string, unknown>;
  if (!route.responseBody) return JSON.stringify(json);
  const field = (route.method.output as DescMessage).fields.find((f) => f.name === route.responseBody);
  return JSON.stringify(field ? (json[field.jsonName] ?? null) : null);
}

const noBody = new Uint8Array(0);

export function restRoutes(deps: EdgeDeps, table: RouteTable): EdgeRoute[] {
  // Request messages of bodiless requests by method, path and query (buildRequest is a
  // function of those alone): the app repeats the same few GETs, and building one costs
  // a reflective fromJson. Never mutated after building (the steps only read requests).
  const memoMax = deps.config.requestMemoEntries;
  const memo = new Map<string, Message>();
  const build = (route: HttpRoute, vars: Map<string, string>, url: URL, body: Uint8Array): Message => {
    if (memoMax === 0 || route.body !== "" || body.byteLength > 0) return buildRequest(route, vars, url.searchParams, body);
    const key = `${route.httpMethod} ${url.pathname}${url.search}`;
    let message = memo.get(key);
    if (!message) {
      message = buildRequest(route, vars, url.searchParams, body);
      if (memo.size >= memoMax) memo.delete(memo.keys().next().value!);
      memo.set(key, message);
    }
    return message;
  };
  const rest: EdgeRoute = async (ctx) => {
    const m = table.match(ctx.req.method, ctx.url.pathname);
    if (m.kind === "not_found") return undefined;
    if (m.kind === "method_not_allowed") {
      const err = new ConnectError(`${ctx.req.method} is not allowed on ${ctx.url.pathname}; use ${m.allow.join(", ")}`, Code.Unimplemented);
      return { reply: errorReply(err, { allow: m.allow.join(", ") }, 405), route: "rest:405" };
    }
    const { route, vars } = m;
    const label = `${route.httpMethod} ${route.template.source}`;
    if (route.method.methodKind !== "unary") return undefined; // streams: see streams.ts
    const routed = deps.registry.public(`/${route.method.parent.typeName}/${route.method.name}`);
    if (!routed) return { reply: errorReply(new ConnectError(`no route for ${ctx.req.method} ${ctx.url.pathname}`, Code.NotFound)), route: "unmatched" };
    const reply = await runRpc(
      deps,
      ctx,
      routed,
      // A request without a body (no length, no stream) is built at once (design note 62).
      !route.body && ctx.req.body === null && ctx.req.headers.get("content-length") === null
        ? () => build(route, vars, ctx.url, noBody)
        : async () => build(route, vars, ctx.url, route.body ? await readBody(ctx.req, deps.config.maxBodyBytes) : await readBody(ctx.req, 1024)),
      (answer, headers) =>
        jsonReply(200, answer.json !== undefined && !route.responseBody ? answer.json : deps.jsonReuse.json(routed, route.responseBody, answer.bytes, () => responseJson(route, answer.message)), headers),
    );
    return { reply, route: label };
  };
  return [rest];
}

/** GET paths of server-streaming methods (served as Server-Sent Events). */
export function eventStreamPaths(table: RouteTable): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of table.routes) {
    if (r.method.methodKind === "server_streaming" && r.httpMethod === "GET" && r.template.variables.length === 0) {
      out[r.template.source] = `/${r.method.parent.typeName}/${r.method.name}`;
    }
  }
  return out;
}
