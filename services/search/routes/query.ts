/**
 * The query field of every search request, parsed or rejected with QUERY_EMPTY. Parses
 * are kept per raw string (at most `parsedCap`, least recently used first): segmenting
 * and normalizing a query was a few percent of a cached search's CPU, and the same
 * queries come again. A Query is never changed after parsing.
 */
import { domainErrors } from "#kit/errors.ts";
import { ErrorReason, ErrorReasonSchema } from "#gen/oasis/search/v1/errors_pb.ts";
import { parseQuery, type Query } from "../domain/analyze.ts";

export const errors = domainErrors<ErrorReason>("search", ErrorReasonSchema);

const parsedCap = 2_000;
const parsed = new Map<string, Query | null>();

export function parsedQuery(raw: string): Query {
  let q = parsed.get(raw);
  if (q === undefined) {
    q = parseQuery(raw) ?? null;
    if (parsed.size >= parsedCap) parsed.delete(parsed.keys().next().value!);
  } else parsed.delete(raw);
  parsed.set(raw, q);
  if (!q) throw errors.invalid(ErrorReason.QUERY_EMPTY, [{ field: "query", description: "has no word, CJK character or #hashtag to search for" }]);
  return q;
}
