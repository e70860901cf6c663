/**
 * What a service tells the mesh but the edge never passes to the app: today, who blocked
 * the caller in graph's ListRelationships (design note 50).
 *
 * ListRelationships lists every user the caller relates to, `blocked_by` included: the
 * edge's page path needs it to keep a blocker's posts out of a blocked viewer's pages
 * (the viewer's relationship set, services/feed/page-path/pieces.ts relSetKey). An app
 * user must not get the list of who blocked them (Twitter and Bluesky do not expose it;
 * Bluesky exposes only a per-profile `blockedBy` boolean in viewer state, which
 * GetRelationship / BatchGetRelationships still give here, for one named user at a time).
 * Graph cannot tell the two callers apart (both are the edge acting for the same user,
 * kit/auth.ts), the edge can: the app's call goes through runRpc, the page path's does
 * not. So the app's answer is filtered here: `blocked_by` cleared on every entry, and an
 * entry that said nothing else left out (it would name a blocker). Pages may come back
 * shorter than page_size (even empty) with a next_page_token: the token is graph's, keyset
 * on user id, so paging on stays exact.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { GraphService, ListRelationshipsResponseSchema } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { relates } from "../services/feed/page-path/index.ts";
import type { RoutedMethod } from "./registry.ts";

const listRelationshipsPath = `/${GraphService.typeName}/${GraphService.method.listRelationships.name}`;

/**
 * The upstream answer `bytes` (binary Protobuf) of `routed` as the app may see it: the
 * same bytes for every method but ListRelationships, whose blockers are withheld (see
 * above); its bytes are decoded and encoded again only when a page names one.
 */
export function withheldFromApp(routed: Pick<RoutedMethod, "path">, bytes: Uint8Array): Uint8Array {
  if (routed.path !== listRelationshipsPath) return bytes;
  const page = fromBinary(ListRelationshipsResponseSchema, bytes);
  if (!page.relationships.some((r) => r.blockedBy)) return bytes;
  // With `blocked_by` cleared, an entry that relates no more (pieces.ts relates) named only a blocker.
  for (const r of page.relationships) r.blockedBy = false;
  page.relationships = page.relationships.filter(relates);
  return toBinary(ListRelationshipsResponseSchema, page);
}
