/**
 * A ticket's priority: what a report adds, and what the subject's reach adds once.
 * - each report: 10, plus 5 when the reporter's account is older than 30 days (new
 *   accounts are cheap to make, so they count less: Mastodon and Ozone both weigh
 *   reporter history);
 * - reach: 5 x floor(log2(owner's followers + 1)), so 1,000 followers add 45 and a
 *   first account adds 0 (one wide post harms more people than one seen by few);
 * - keyword rules add their own raise (rules.ts).
 */
export const reportPoints = 10;
export const trustedReporterPoints = 5;
export const trustedAccountAgeMs = 30 * 24 * 3600 * 1000;

/** Points one report adds. */
export function reportWeight(reporterCreatedAtMs: number | undefined, nowMs = Date.now()): number {
  const trusted = reporterCreatedAtMs !== undefined && nowMs - reporterCreatedAtMs > trustedAccountAgeMs;
  return reportPoints + (trusted ? trustedReporterPoints : 0);
}

/** Points the owner's reach adds. */
export function reachWeight(followers: bigint): number {
  return 5 * Math.floor(Math.log2(Number(followers) + 1));
}
