/** Counters as the responses carry them. */
import { create } from "@bufbuild/protobuf";
import { PostCountsSchema, type PostCounts } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import type { Counts } from "../domain/model.ts";

/** The PostCounts message of one post's counters (the version stays inside). */
export function countsMessage(postId: bigint, c: Omit<Counts, "v">): PostCounts {
  return create(PostCountsSchema, { postId, likes: c.likes, comments: c.comments, refers: c.refers, dropsReceived: c.dropsReceived });
}
