/**
 * Authors' private flags for visibility checks (post's reader and interaction's like
 * check): identity's BatchGetProfiles, asked as the service, remembered in this process
 * for `memoMs` (default 10 s, the bound on how late a switch to private shows in these
 * checks). Unknown authors count as private (show nothing) and are not remembered. The
 * memo is cleared when it passes 100,000 authors.
 */
import type { Client } from "@connectrpc/connect";
import { asService } from "#kit/client.ts";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";

const memoMax = 100_000;

export class AuthorPrivacy {
  private readonly memo = new Map<bigint, { isPrivate: boolean; until: number }>();

  constructor(
    private readonly identity: Client<typeof IdentityService>,
    private readonly memoMs = 10_000,
  ) {}

  /** The private flag of each of `authors` (one identity call for those not remembered). */
  async of(authors: readonly bigint[]): Promise<Map<bigint, boolean>> {
    const now = Date.now();
    const out = new Map<bigint, boolean>();
    const ask: bigint[] = [];
    for (const a of authors) {
      const m = this.memo.get(a);
      if (m && m.until > now) out.set(a, m.isPrivate);
      else ask.push(a);
    }
    if (ask.length) {
      const res = await this.identity.batchGetProfiles({ userIds: ask }, asService());
      if (this.memo.size > memoMax) this.memo.clear();
      for (const p of res.profiles) {
        out.set(p.userId, p.private);
        this.memo.set(p.userId, { isPrivate: p.private, until: now + this.memoMs });
      }
      for (const a of ask) if (!out.has(a)) out.set(a, true);
    }
    return out;
  }
}
