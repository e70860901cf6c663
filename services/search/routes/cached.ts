/**
 * What the search routes share around the request cache (../request-cache.ts): who may
 * get a cached whole answer, the normalized query the keys are made of, and answers
 * pre-encoded once for every anonymous caller.
 *
 * Pre-encoding: most of an anonymous hit's remaining CPU was Connect serializing the same
 * page again (reflective Protobuf, ~15 us a PostView). Protobuf-ES writes a message's
 * unknown fields verbatim after its known ones, so an answer is kept as an empty message
 * of its type whose `$unknown` holds the encoded top-level fields of the real one: the
 * bytes on the wire are exactly toBinary's, written as raw copies. Only binary callers
 * (Connect proto, gRPC, gRPC-Web: the edge and every mesh client) get it; a JSON caller
 * would see no field (JSON drops unknown fields), so it gets the message itself.
 */
import { create, toBinary, type DescMessage, type MessageShape, type UnknownField } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import type { HandlerContext } from "@connectrpc/connect";
import type { Caller } from "#kit/call-context.ts";
import type { Query } from "../domain/analyze.ts";

/**
 * anonymous: the answer depends only on the data, so the whole of it is cached;
 * user: only the viewer-independent skeleton (hits, loaded snapshots) is;
 * service: nothing is (a service sees what no user does, and calls rarely).
 */
export type ViewerClass = "anonymous" | "user" | "service";

export function viewerClass(c: Caller): ViewerClass {
  if (c.service) return "service";
  return c.userId === null ? "anonymous" : "user";
}

const keys = new WeakMap<Query, string>();

/** A query as the engine sees it (words, CJK runs, tags, prefix flag): queries that parse alike share cache entries and page tokens. */
export function queryKey(q: Query): string {
  let key = keys.get(q);
  if (key === undefined) keys.set(q, (key = JSON.stringify([q.words, q.cjk, q.tags, q.prefixLast ? 1 : 0])));
  return key;
}

const parsedKeys = new Map<string, Query | undefined>();

/** The query a queryKey was made of (undefined if `key` is not one); kept for the keys seen last. */
export function queryOfKey(key: string): Query | undefined {
  let q = parsedKeys.get(key);
  if (q === undefined && !parsedKeys.has(key)) {
    try {
      const [words, cjk, tags, prefix] = JSON.parse(key) as [string[], string[], string[], number];
      q = Array.isArray(words) && Array.isArray(cjk) && Array.isArray(tags) ? { words, cjk, tags, prefixLast: prefix === 1 } : undefined;
    } catch {
      q = undefined;
    }
    if (parsedKeys.size >= 10_000) parsedKeys.delete(parsedKeys.keys().next().value!);
    parsedKeys.set(key, q);
  }
  return q;
}

/** An answer kept for anonymous callers: the message, and its top-level fields encoded. */
export interface PreEncoded<T> {
  readonly message: T;
  readonly fields: readonly UnknownField[];
  /** The whole encoding (what the fields were split from). */
  readonly bytes: Uint8Array;
}

/** Encodes `message` once and splits the bytes into its top-level fields. */
export function preEncode<D extends DescMessage>(schema: D, message: MessageShape<D>): PreEncoded<MessageShape<D>> {
  const bytes = toBinary(schema, message);
  const reader = new BinaryReader(bytes);
  const fields: UnknownField[] = [];
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    fields.push({ no, wireType, data: reader.skip(wireType, no) });
  }
  return { message, fields, bytes };
}

/**
 * Size estimates for the request cache's byte bound, bytes: a pre-encoded answer holds
 * its encoding and, about as much again, the message (for JSON callers); hits are a few
 * numbers each; loaded snapshots are mostly the read model's decoded messages, shared
 * with its own cache, so only the maps count.
 */
export const encodedSize = (p: PreEncoded<unknown>) => 2 * p.fields.reduce((n, f) => n + f.data.byteLength + 8, 0);
export const hitsSize = (hits: readonly unknown[]) => 64 + 48 * hits.length;
export const loadedSize = (ids: number) => 256 + 128 * ids;

const binaryContentType = /^application\/(proto|grpc(-web)?(\+proto)?)(;|$)/;

/** The answer for this call: the pre-encoded fields for a binary caller, else the message. */
export function answer<D extends DescMessage>(schema: D, cached: PreEncoded<MessageShape<D>>, context: HandlerContext): MessageShape<D> {
  if (!binaryContentType.test(context.requestHeader.get("content-type") ?? "")) return cached.message;
  const out = create(schema);
  out.$unknown = cached.fields as UnknownField[];
  return out;
}
