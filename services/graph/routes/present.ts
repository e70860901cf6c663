/** Follow-list pages as the List* responses carry them. */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { FollowEdgeSchema, type FollowEdge } from "#gen/oasis/graph/v1/graph_pb.ts";
import type { ListedEdge } from "../domain/lists.ts";

/** A domain page of edges as `users` (user id and follow time) and `next_page_token`. */
export function followEdges(page: { edges: readonly ListedEdge[]; nextPageToken: string }): { users: FollowEdge[]; nextPageToken: string } {
  return {
    users: page.edges.map((r) => create(FollowEdgeSchema, { userId: r.userId, createTime: timestampFromMs(r.createdMs) })),
    nextPageToken: page.nextPageToken,
  };
}
