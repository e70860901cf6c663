/**
 * edge/withheld.ts: the app never gets the list of who blocked it from ListRelationships;
 * every other field and every other method's answer passes unchanged.
 */
import { expect, test } from "bun:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { GraphService, ListRelationshipsResponseSchema, BatchGetRelationshipsResponseSchema } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { RelationshipSchema } from "#gen/oasis/graph/v1/graph_pb.ts";
import { withheldFromApp } from "./withheld.ts";

const list = { path: `/${GraphService.typeName}/${GraphService.method.listRelationships.name}` };
const batch = { path: `/${GraphService.typeName}/${GraphService.method.batchGetRelationships.name}` };

test("ListRelationships: blockers left out, blocked_by cleared where the entry says more, the token kept; no blocker: the same bytes", () => {
  const page = create(ListRelationshipsResponseSchema, {
    relationships: [
      create(RelationshipSchema, { userId: 1n, following: true, followedBy: true, mutual: true }),
      create(RelationshipSchema, { userId: 2n, blockedBy: true }),
      create(RelationshipSchema, { userId: 3n, blockedBy: true, muting: true }),
      create(RelationshipSchema, { userId: 4n, blocking: true, blockedBy: true }),
    ],
    nextPageToken: "next",
  });
  const shown = fromBinary(ListRelationshipsResponseSchema, withheldFromApp(list, toBinary(ListRelationshipsResponseSchema, page)));
  expect(shown.nextPageToken).toBe("next");
  expect(shown.relationships.map((r) => [r.userId, r.blockedBy, r.following, r.muting, r.blocking])).toEqual([
    [1n, false, true, false, false],
    [3n, false, false, true, false],
    [4n, false, false, false, true],
  ]);
  const clean = toBinary(ListRelationshipsResponseSchema, create(ListRelationshipsResponseSchema, { relationships: [page.relationships[0]!], nextPageToken: "" }));
  expect(withheldFromApp(list, clean)).toBe(clean);
});

test("other methods pass as they came: BatchGetRelationships keeps the per-user blocked_by (as Bluesky's viewer.blockedBy)", () => {
  const bytes = toBinary(BatchGetRelationshipsResponseSchema, create(BatchGetRelationshipsResponseSchema, { relationships: [create(RelationshipSchema, { userId: 2n, blockedBy: true })] }));
  expect(withheldFromApp(batch, bytes)).toBe(bytes);
});
