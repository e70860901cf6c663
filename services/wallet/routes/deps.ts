/**
 * The giving use cases' view of the mesh: blocks from graph (GetRelationship as the
 * payer), a payee's existence and a tipped author's activity (exists, not suspended:
 * GetAccountStatus) from identity (as the service), a post's author from post
 * (GetPost as the payer, so a post the payer may not see cannot be tipped).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { asService } from "#kit/client.ts";
import type { WalletContext } from "../context.ts";
import type { GivingDeps } from "../domain/giving.ts";

/** The signed-in caller (every giving and reading RPC is ACCESS_USER). */
export const callerId = (): bigint => currentCaller().userId!;

const notFound = (err: unknown) => ConnectError.from(err).code === Code.NotFound;

export function givingDeps(ctx: WalletContext): GivingDeps {
  const cfg = ctx.rt.config;
  const deps: GivingDeps = {
    store: ctx.store,
    dailyGivingLimit: cfg.dailyGivingLimit,
    defaultHoldSeconds: cfg.defaultHoldSeconds,
    tipHoldSeconds: cfg.tipHoldSeconds,
    now: () => new Date(),
    async blockedBetween(_payer, payee) {
      const r = (await ctx.graph.getRelationship({ userId: payee })).relationship;
      return !!r && (r.blocking || r.blockedBy);
    },
    // Active = the account exists and moderation has not suspended it, asked as the
    // service (a block must not hide it).
    async authorActive(userId) {
      const s = await ctx.identity.getAccountStatus({ userId }, asService());
      return s.exists && !s.suspended;
    },
    async userExists(userId) {
      try {
        // As the service: whether the account exists, not what the payer may see of it
        // (a block hides a profile both ways, and a block must answer BLOCKED, below).
        await ctx.identity.getProfile({ lookup: { case: "userId", value: userId } }, asService());
        return true;
      } catch (err) {
        if (notFound(err)) return false;
        throw err;
      }
    },
    async postAuthor(postId) {
      try {
        return (await ctx.post.getPost({ postId })).post?.authorId;
      } catch (err) {
        if (notFound(err)) return undefined;
        throw err;
      }
    },
  };
  return deps;
}
