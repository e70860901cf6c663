/**
 * json-reuse.ts: an identical answer of a read is rendered once; a different answer, a
 * write, an answer too large or a reuse turned off is rendered every time; the least
 * recently used rendering goes first; a kept answer is a copy.
 */
import { expect, test } from "bun:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import { SearchPostsResponseSchema, SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import { JsonReuse, maxAnswerBytes } from "./json-reuse.ts";
import { MethodRegistry } from "./registry.ts";
import { encodeJson } from "./json-codec.ts";

const registry = new MethodRegistry([SearchService, PostService], ["search", "post"]);
const searchPosts = registry.method("/oasis.search.v1.SearchService/SearchPosts")!;
const createPost = registry.method("/oasis.post.v1.PostService/CreatePost")!;
const answer = (token: string) => toBinary(SearchPostsResponseSchema, create(SearchPostsResponseSchema, { nextPageToken: token }));

/** A renderer of `bytes` as the edge's (decode, proto3 JSON) that counts its calls. */
function counting(bytes: Uint8Array) {
  const r = { renders: 0, render: () => (r.renders++, encodeJson(SearchPostsResponseSchema, fromBinary(SearchPostsResponseSchema, bytes))) };
  return r;
}

test("a read's identical answer is rendered once, a different one again", () => {
  const reuse = new JsonReuse(10);
  const a = answer("page-a");
  const r = counting(a);
  const first = reuse.json(searchPosts, "", a, r.render);
  expect(reuse.json(searchPosts, "", answer("page-a"), r.render)).toBe(first);
  expect(r.renders).toBe(1);
  expect(first).toBe('{"nextPageToken":"page-a"}');
  const b = counting(answer("page-b"));
  expect(reuse.json(searchPosts, "", answer("page-b"), b.render)).toBe('{"nextPageToken":"page-b"}');
  // Another rendering (a REST binding's response_body) of the same bytes is its own entry.
  const field = { renders: 0 };
  reuse.json(searchPosts, "next_page_token", a, () => (field.renders++, '"page-a"'));
  expect(field.renders).toBe(1);
  expect(reuse.hits).toBe(1);
});

test("writes, answers over the size bound and a reuse of 0 entries are rendered every time", () => {
  const reuse = new JsonReuse(10);
  const a = answer("w");
  let n = 0;
  reuse.json(createPost, "", a, () => `${++n}`);
  expect(reuse.json(createPost, "", a, () => `${++n}`)).toBe("2");
  const big = new Uint8Array(maxAnswerBytes + 1);
  reuse.json(searchPosts, "", big, () => `${++n}`);
  expect(reuse.json(searchPosts, "", big, () => `${++n}`)).toBe("4");
  const off = new JsonReuse(0);
  off.json(searchPosts, "", a, () => `${++n}`);
  expect(off.json(searchPosts, "", a, () => `${++n}`)).toBe("6");
  expect(reuse.size).toBe(0);
});

test("at most `entries` kept, least recently used dropped; a kept answer does not change with the caller's buffer", () => {
  const reuse = new JsonReuse(2);
  const a = answer("a");
  const b = answer("b");
  let n = 0;
  reuse.json(searchPosts, "", a, () => `a${++n}`);
  reuse.json(searchPosts, "", b, () => `b${++n}`);
  reuse.json(searchPosts, "", a, () => `a${++n}`); // a is now the most recent
  reuse.json(searchPosts, "", answer("c"), () => `c${++n}`); // drops b
  expect(reuse.size).toBe(2);
  expect(reuse.json(searchPosts, "", a, () => `a${++n}`)).toBe("a1");
  expect(reuse.json(searchPosts, "", b, () => `b${++n}`)).toBe("b4");
  // The caller's buffer is reused for another answer: the kept bytes were copied.
  const buf = answer("x");
  reuse.json(searchPosts, "", buf, () => "x");
  buf.fill(0);
  expect(reuse.json(searchPosts, "", answer("x"), () => "x again")).toBe("x");
});
