/**
 * BatchGetProfiles: the profiles of user_ids the caller may see, in request order,
 * duplicates once; missing, blocked and unreadable ones are left out.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import type { IdentityContext } from "../context.ts";
import { canReadProfile, needsRelation, presentProfile } from "../domain/rules.ts";

export function batchGetProfiles(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "batchGetProfiles"> {
  return {
    async batchGetProfiles(req) {
      const order = [...new Set(req.userIds)];
      const found = await ctx.profiles.get(order);
      const who = currentCaller();
      let profiles = order.map((id) => found.get(id)).filter((p): p is Profile => !!p && canReadProfile(p, who));
      // Private profiles need the viewer's relationship (follower: full; else the header;
      // blocked either way: left out). Public ones are returned as they are: batch readers
      // (feed hydration) apply block rules in their own rules step, and asking graph for
      // every author of every page would add a hop to the read path.
      const ask = profiles.filter((p) => p.private && needsRelation(p, who)).map((p) => p.userId);
      if (ask.length) {
        const { relationships } = await ctx.graph().batchGetRelationships({ userIds: ask });
        const rel = new Map(relationships.map((r) => [r.userId, r]));
        profiles = profiles.flatMap((p) => {
          if (!ask.includes(p.userId)) return [p];
          // No answer for an id: show the header only (never more than a non-follower sees).
          const shown = presentProfile(p, rel.get(p.userId) ?? { following: false, blocking: false, blockedBy: false });
          return shown ? [shown] : [];
        });
      }
      return { profiles };
    },
  };
}
