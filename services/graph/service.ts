/**
 * GraphService: the route modules merged (one file per RPC under routes/). The caller
 * is always the actor (verified mesh caller assertion); writes change rows, counts and
 * the outbox in one transaction and only when a row really changed, then drop the
 * affected Redis entries (domain/relations.ts).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "./context.ts";
import { approveFollowRequest } from "./routes/approve-follow-request.ts";
import { batchCreateFollows } from "./routes/batch-create-follows.ts";
import { batchGetCounts } from "./routes/batch-get-counts.ts";
import { batchGetRelationships } from "./routes/batch-get-relationships.ts";
import { block } from "./routes/block.ts";
import { follow } from "./routes/follow.ts";
import { getCounts } from "./routes/get-counts.ts";
import { getRelationship } from "./routes/get-relationship.ts";
import { listFollowRequests } from "./routes/list-follow-requests.ts";
import { listFollowerIds } from "./routes/list-follower-ids.ts";
import { listFollowers } from "./routes/list-followers.ts";
import { listFollowing } from "./routes/list-following.ts";
import { listFollowingIds } from "./routes/list-following-ids.ts";
import { listMutualFans } from "./routes/list-mutual-fans.ts";
import { listRelationships } from "./routes/list-relationships.ts";
import { mute } from "./routes/mute.ts";
import { rejectFollowRequest } from "./routes/reject-follow-request.ts";
import { unblock } from "./routes/unblock.ts";
import { unfollow } from "./routes/unfollow.ts";
import { unmute } from "./routes/unmute.ts";

export function graphService(ctx: GraphContext): ServiceImpl<typeof GraphService> {
  return {
    ...follow(ctx),
    ...batchCreateFollows(ctx),
    ...unfollow(ctx),
    ...listFollowers(ctx),
    ...listFollowing(ctx),
    ...listMutualFans(ctx),
    ...getRelationship(ctx),
    ...batchGetRelationships(ctx),
    ...listRelationships(ctx),
    ...listFollowRequests(ctx),
    ...approveFollowRequest(ctx),
    ...rejectFollowRequest(ctx),
    ...block(ctx),
    ...unblock(ctx),
    ...mute(ctx),
    ...unmute(ctx),
    ...getCounts(ctx),
    ...batchGetCounts(ctx),
    ...listFollowerIds(ctx),
    ...listFollowingIds(ctx),
  };
}
