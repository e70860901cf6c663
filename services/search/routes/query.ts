/** The query field of every search request, parsed or rejected with QUERY_EMPTY. */
import { domainErrors } from "#kit/errors.ts";
import { ErrorReason, ErrorReasonSchema } from "#gen/oasis/search/v1/errors_pb.ts";
import { parseQuery, type Query } from "../domain/analyze.ts";

export const errors = domainErrors<ErrorReason>("search", ErrorReasonSchema);

export function parsedQuery(raw: string): Query {
  const q = parseQuery(raw);
  if (!q) throw errors.invalid(ErrorReason.QUERY_EMPTY, [{ field: "query", description: "has no word, CJK character or #hashtag to search for" }]);
  return q;
}
