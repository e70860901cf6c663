/**
 * Which accounts exist and which are private, as graph needs it on every follow.
 * The record is identity's; graph keeps a mirror fed by identity's account_created and
 * profile_updated events, and asks identity directly for an id it has not heard of yet
 * (the event may still be on its way), storing the answer.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import type { Pool } from "#kit/mysql.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { accountsByIds, upsertAccount } from "./store.ts";

/**
 * A flag read here is remembered in this process for 10 s: every follow asks, and a
 * change of the private flag reaching each replica 10 s late is harmless (a follow
 * request instead of a follow, or the reverse, for those seconds).
 */
const memoMs = 10_000;

export class AccountDirectory {
  private readonly memo = new Map<bigint, { isPrivate: boolean; until: number }>();

  constructor(
    private readonly db: Pool,
    private readonly identity: Client<typeof IdentityService>,
  ) {}

  /** Private flag per existing account among `ids`; unknown ids are absent. */
  async privacy(ids: readonly bigint[]): Promise<Map<bigint, boolean>> {
    const now = Date.now();
    const out = new Map<bigint, boolean>();
    const ask: bigint[] = [];
    for (const id of ids) {
      const m = this.memo.get(id);
      if (m && m.until > now) out.set(id, m.isPrivate);
      else ask.push(id);
    }
    if (ask.length === 0) return out;
    const found = await this.load(ask);
    if (this.memo.size > 100_000) this.memo.clear();
    for (const [id, isPrivate] of found) {
      out.set(id, isPrivate);
      this.memo.set(id, { isPrivate, until: now + memoMs });
    }
    return out;
  }

  private async load(ids: readonly bigint[]): Promise<Map<bigint, boolean>> {
    const known = await accountsByIds(this.db, ids);
    const missing = ids.filter((id) => !known.has(id));
    if (missing.length) {
      // As the graph service itself, so private profiles are returned too.
      const res = await this.identity.batchGetProfiles({ userIds: missing });
      for (const p of res.profiles) {
        known.set(p.userId, p.private);
        await upsertAccount(this.db, p.userId, p.private, p.updateTime ? timestampDate(p.updateTime) : new Date(0));
      }
    }
    return known;
  }

  /** Applies identity's view of a profile (from an event). */
  async record(userId: bigint, isPrivate: boolean, updatedAt: Date): Promise<void> {
    await upsertAccount(this.db, userId, isPrivate, updatedAt);
    this.memo.delete(userId);
  }
}
