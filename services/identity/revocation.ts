/**
 * Making revocation bite at the edge: after a session's row is revoked (committed),
 * its id goes into the edge's revocation list in Redis for as long as an access token
 * of it may live (access TTL plus a minute of clock slack), and is announced on the
 * revocation channel so edges close the session's open streams. The edge checks the
 * list in the same Lua call as the rate limits: a revoked token is refused on its next
 * request, well within a second. If this write fails, the RPC fails and the client
 * retries (revocation is idempotent); the row is already revoked, so refresh is dead.
 */
import { revocationChannel, revokedSessionKey } from "#kit/edge-keys.ts";
import type { IdentityContext } from "./context.ts";

/** Puts `sessionIds` on the edge's revocation list and announces them. */
export async function revokeSessions(ctx: IdentityContext, sessionIds: readonly bigint[]): Promise<void> {
  if (sessionIds.length === 0) return;
  const ttlSeconds = ctx.config.accessTtlSeconds + 60;
  const m = ctx.edgeRedis.multi();
  for (const id of sessionIds) m.set(revokedSessionKey(String(id)), "1", "EX", ttlSeconds);
  await m.exec();
  const channel = revocationChannel(ctx.config.namespace);
  // Pub/Sub channels are not prefixed by ioredis; publish via the same client anyway.
  for (const id of sessionIds) await ctx.edgeRedis.publish(channel, String(id));
}
