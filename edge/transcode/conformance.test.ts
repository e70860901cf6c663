/**
 * Transcoding conformance: a table of HTTP requests and what they must become (which
 * RPC, which request message) or how they must fail (status and field), over a test
 * contract that uses every binding shape of google/api/http.proto. Cases follow the
 * rules vanguard-go and grpc-gateway test: templates, literal-over-variable, verbs,
 * resource patterns, `**`, percent-decoding, query parameters of every type, body "*"
 * and body field, path-over-body precedence, response_body, 404 and 405.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { create, toJson, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { BadRequestSchema } from "#gen/google/rpc/error_details_pb.ts";
import { responseJson } from "../rest.ts";
import { compileEdgeTestService } from "../testdata/compile.ts";
import { parseTemplate, TemplateError } from "./path-template.ts";
import { buildRequest } from "./request.ts";
import { RouteTable } from "./route-table.ts";

let service: DescService;
let table: RouteTable;

beforeAll(() => {
  service = compileEdgeTestService();
  table = new RouteTable([service]);
});

type Outcome = { rpc: string; request: unknown } | { status: number; field?: string; allow?: string };

function transcode(httpMethod: string, url: string, body = ""): Outcome {
  const u = new URL(url, "http://edge");
  const m = table.match(httpMethod, u.pathname);
  if (m.kind === "not_found") return { status: 404 };
  if (m.kind === "method_not_allowed") return { status: 405, allow: m.allow.join(", ") };
  try {
    const msg = buildRequest(m.route, m.vars, u.searchParams, new TextEncoder().encode(body));
    return { rpc: m.route.method.name, request: toJson(m.route.method.input as DescMessage, msg as never) };
  } catch (err) {
    const ce = ConnectError.from(err);
    return { status: codeToHttpStatus(ce.code), field: ce.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field };
  }
}

const cases: Array<[string, string, string, string, Outcome]> = [
  // [name, method, url, body, expected]
  ["variable", "GET", "/v1/users/42", "", { rpc: "GetUser", request: { userId: "42" } }],
  ["additional binding", "GET", "/v1/handles/alice", "", { rpc: "GetUser", request: { handle: "alice" } }],
  ["literal beats variable", "GET", "/v1/users/me", "", { rpc: "GetMe", request: {} }],
  ["bad int64 in path", "GET", "/v1/users/abc", "", { status: 400, field: "user_id" }],
  ["query scalars", "GET", "/v1/users/42/posts?page_size=10&page_token=t1", "", { rpc: "ListUserPosts", request: { userId: "42", pageSize: 10, pageToken: "t1" } }],
  ["query by JSON name", "GET", "/v1/users/42/posts?pageSize=5", "", { rpc: "ListUserPosts", request: { userId: "42", pageSize: 5 } }],
  ["unknown query parameter", "GET", "/v1/users/42/posts?bogus=1", "", { status: 400, field: "bogus" }],
  ["bad int32 in query", "GET", "/v1/users/42/posts?page_size=ten", "", { status: 400, field: "page_size" }],
  ["query may not override the path", "GET", "/v1/users/42/posts?user_id=7", "", { rpc: "ListUserPosts", request: { userId: "42" } }],
  ["verb with body *", "POST", "/v1/users/42:follow", "{}", { rpc: "FollowUser", request: { userId: "42" } }],
  ["verb with body fields", "POST", "/v1/users/42:follow", '{"notify":true}', { rpc: "FollowUser", request: { userId: "42", notify: true } }],
  ["empty body with body *", "POST", "/v1/users/42:follow", "", { rpc: "FollowUser", request: { userId: "42" } }],
  ["path wins over body", "POST", "/v1/users/42:follow", '{"userId":"7"}', { rpc: "FollowUser", request: { userId: "42" } }],
  ["no query with body *", "POST", "/v1/users/42:follow?notify=true", "{}", { status: 400, field: "notify" }],
  ["verb, wrong method", "GET", "/v1/users/42:follow", "", { status: 405, allow: "POST" }],
  ["known path, wrong method", "POST", "/v1/users/42", "", { status: 405, allow: "DELETE, GET, PATCH" }],
  ["unknown verb falls to the variable", "GET", "/v1/users/42:bogus", "", { status: 400, field: "user_id" }],
  ["resource pattern", "GET", "/v1/shelves/s1", "", { rpc: "GetShelf", request: { name: "shelves/s1" } }],
  ["two-level resource pattern", "GET", "/v1/shelves/s1/books/b2", "", { rpc: "GetBook", request: { name: "shelves/s1/books/b2" } }],
  ["pattern prefix only", "GET", "/v1/shelves/s1/books", "", { status: 404 }],
  ["literal of the pattern must match", "GET", "/v1/racks/s1", "", { status: 404 }],
  ["** many segments", "GET", "/v1/files/a/b/c.txt", "", { rpc: "GetFile", request: { path: "a/b/c.txt" } }],
  ["** zero segments", "GET", "/v1/files", "", { rpc: "GetFile", request: {} }],
  ["** keeps %2F encoded", "GET", "/v1/files/a%2Fb/c", "", { rpc: "GetFile", request: { path: "a%2Fb/c" } }],
  ["** decodes other escapes", "GET", "/v1/files/a%20b/%E6%98%A5", "", { rpc: "GetFile", request: { path: "a b/春" } }],
  ["single segment decodes everything", "GET", "/v1/handles/a%2Fb", "", { rpc: "GetUser", request: { handle: "a/b" } }],
  ["single segment decodes unicode", "GET", "/v1/handles/%E6%98%A5%E5%A4%A9", "", { rpc: "GetUser", request: { handle: "春天" } }],
  ["malformed escape", "GET", "/v1/handles/%zz", "", { status: 404 }],
  ["nested path variable and body field", "PATCH", "/v1/users/7", '{"displayName":"Ada"}', { rpc: "UpdateUser", request: { user: { userId: "7", displayName: "Ada" } } }],
  ["nested path wins over body field", "PATCH", "/v1/users/7", '{"userId":"8","displayName":"Ada"}', { rpc: "UpdateUser", request: { user: { userId: "7", displayName: "Ada" } } }],
  ["update_mask from the query", "PATCH", "/v1/users/7?update_mask=display_name,handle", '{"displayName":"Ada"}', { rpc: "UpdateUser", request: { user: { userId: "7", displayName: "Ada" }, updateMask: "displayName,handle" } }],
  ["body field must not be in the query", "PATCH", "/v1/users/7?user.handle=x", "{}", { status: 400, field: "user.handle" }],
  ["delete", "DELETE", "/v1/users/42", "", { rpc: "DeleteUser", request: { userId: "42" } }],
  ["HEAD is GET", "HEAD", "/v1/users/42", "", { rpc: "GetUser", request: { userId: "42" } }],
  ["GET with a body", "GET", "/v1/users/42", '{"x":1}', { status: 400, field: "" }],
  ["body not JSON", "POST", "/v1/things", "not json", { status: 400, field: "" }],
  ["body not an object", "POST", "/v1/things", "[1,2]", { status: 400, field: "" }],
  ["unknown body field", "POST", "/v1/things", '{"nope":1}', { status: 400, field: "nope" }],
  ["repeated query", "GET", "/v1/search?tags=a&tags=b", "", { rpc: "Search", request: { tags: ["a", "b"] } }],
  ["nested query", "GET", "/v1/search?filter.min_likes=5&filter.author=ada", "", { rpc: "Search", request: { filter: { minLikes: "5", author: "ada" } } }],
  ["enum by name", "GET", "/v1/search?order=ORDER_NEWEST", "", { rpc: "Search", request: { order: "ORDER_NEWEST" } }],
  ["enum by number", "GET", "/v1/search?order=2", "", { rpc: "Search", request: { order: "ORDER_NEWEST" } }],
  ["repeated enum", "GET", "/v1/search?orders=1&orders=ORDER_NEWEST", "", { rpc: "Search", request: { orders: ["ORDER_RELEVANT", "ORDER_NEWEST"] } }],
  ["bad enum", "GET", "/v1/search?order=ORDER_BEST", "", { status: 400, field: "order" }],
  ["Timestamp", "GET", "/v1/search?since=2026-01-01T00:00:00Z", "", { rpc: "Search", request: { since: "2026-01-01T00:00:00Z" } }],
  ["bad Timestamp", "GET", "/v1/search?since=yesterday", "", { status: 400, field: "since" }],
  ["Duration", "GET", "/v1/search?window=3.5s", "", { rpc: "Search", request: { window: "3.500s" } }],
  ["FieldMask", "GET", "/v1/search?fields=q,filter.min_likes", "", { rpc: "Search", request: { fields: "q,filter.minLikes" } }],
  ["Int32Value wrapper", "GET", "/v1/search?limit=7", "", { rpc: "Search", request: { limit: 7 } }],
  ["BoolValue wrapper", "GET", "/v1/search?exact=false", "", { rpc: "Search", request: { exact: false } }],
  ["bool", "GET", "/v1/search?safe=true", "", { rpc: "Search", request: { safe: true } }],
  ["bad bool", "GET", "/v1/search?safe=yes", "", { status: 400, field: "safe" }],
  ["double", "GET", "/v1/search?ratio=0.25", "", { rpc: "Search", request: { ratio: 0.25 } }],
  ["non-repeated given twice", "GET", "/v1/search?q=a&q=b", "", { status: 400, field: "q" }],
  ["message field needs sub-fields", "GET", "/v1/search?filter=x", "", { status: 400, field: "filter" }],
  ["CJK query value", "GET", `/v1/search?q=${encodeURIComponent("#春天")}`, "", { rpc: "Search", request: { q: "#春天" } }],
  ["custom HTTP method", "PURGE", "/v1/cache/eu", "", { rpc: "PurgeCache", request: { region: "eu" } }],
  ["unknown path", "GET", "/v1/nothing", "", { status: 404 }],
  ["trailing slash", "GET", "/v1/users/42/", "", { status: 404 }],
  ["root", "GET", "/", "", { status: 404 }],
];

describe("transcoding conformance", () => {
  test(`the table has at least 45 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(45);
  });
  for (const [name, method, url, body, want] of cases) {
    test(`${name}: ${method} ${url}`, () => {
      expect(transcode(method, url, body)).toEqual(want);
    });
  }
});

describe("responses and load-time checks", () => {
  test("response_body sends only that field", () => {
    const m = table.match("POST", "/v1/things");
    if (m.kind !== "match") throw new Error("no match");
    const out = create(m.route.method.output as DescMessage, { thing: { name: "n" }, note: "hidden" } as never);
    expect(JSON.parse(responseJson(m.route, out))).toEqual({ name: "n" });
  });

  test("bad templates are refused", () => {
    for (const bad of ["v1/x", "/v1/**/x", "/v1/{a=**}/b", "/v1/{a}/{a}", "/v1/{a.}", "/v1//x", "/v1/{a"]) {
      expect(() => parseTemplate(bad)).toThrow(TemplateError);
    }
  });

  test("two bindings for the same requests are refused", () => {
    expect(() => new RouteTable([service, service])).toThrow(/conflicts with/);
  });
});
