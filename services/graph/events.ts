/**
 * What graph consumes: identity's account_created and profile_updated, to keep its
 * mirror of which accounts exist and which are private. Idempotent by nature (an
 * upsert that ignores older updates), so redelivery is harmless.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { on } from "#kit/consumer.ts";
import { AccountCreatedSchema, ProfileUpdatedSchema } from "#gen/oasis/identity/v1/events_pb.ts";
import type { GraphContext } from "./context.ts";

export function identityConsumer(ctx: GraphContext) {
  return {
    name: "graph-accounts",
    handlers: [
      on(AccountCreatedSchema, async (e) => {
        const when = e.profile?.updateTime ? timestampDate(e.profile.updateTime) : new Date(0);
        await ctx.accounts.record(e.userId, e.profile?.private ?? false, when);
      }),
      on(ProfileUpdatedSchema, async (e) => {
        if (!e.profile) return;
        const when = e.profile.updateTime ? timestampDate(e.profile.updateTime) : new Date();
        await ctx.accounts.record(e.profile.userId, e.profile.private, when);
      }),
    ],
  };
}
