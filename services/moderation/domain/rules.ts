/**
 * Keyword rules before review: admins add and remove them at run time (table
 * keyword_rules); a consumer reloads the list for any event newer than its last load,
 * so a change applies to everything made after it. A keyword matches as a substring of the
 * NFKC-normalized, lower-cased text: Chinese has no spaces to split on, and a substring
 * finds it inside a sentence; for English it also matches inside longer words, which
 * is why a rule can only raise priority, label, or hide pending review, and never
 * decides alone: every match files a report by the rules (reporter 0) for a reviewer.
 */
import { ActionType, ReasonType, SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import { RuleEffect } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import { select, type Queryable } from "#kit/mysql.ts";
import type { ModerationContext } from "../context.ts";
import { adapters } from "../adapters/index.ts";
import { recordAction } from "./actions.ts";
import type { Content, SubjectRef } from "./model.ts";
import { fileReport } from "./tickets.ts";
import type { Tx } from "#kit/mysql.ts";

export interface RuleRow {
  readonly ruleId: bigint;
  readonly keyword: string;
  readonly effect: RuleEffect;
  readonly raisePoints: number;
  readonly createdBy: bigint;
  readonly createdAt: Date;
}

export const normalizeText = (text: string): string => text.normalize("NFKC").toLowerCase();

/** The rules whose keyword `text` contains. */
export function matchRules(rules: readonly RuleRow[], text: string): RuleRow[] {
  const t = normalizeText(text);
  return rules.filter((r) => t.includes(normalizeText(r.keyword)));
}

export async function loadRules(db: Queryable): Promise<RuleRow[]> {
  const rows = await select<{ rule_id: string; keyword: string; effect: number; raise_points: number; created_by: string; created_at: Date }>(
    db,
    "SELECT rule_id, keyword, effect, raise_points, created_by, created_at FROM keyword_rules ORDER BY rule_id",
  );
  return rows.map((r) => ({ ruleId: BigInt(r.rule_id), keyword: r.keyword, effect: r.effect as RuleEffect, raisePoints: Number(r.raise_points), createdBy: BigInt(r.created_by), createdAt: r.created_at }));
}

/**
 * The rule list as of an event: reloaded when the event happened after the last load,
 * so a rule added before a post was made always applies to it (no reload window), and a
 * burst of older events (a consumer catching up) shares one load.
 */
export class RuleSet {
  private rules: RuleRow[] = [];
  private loadedAtMs = 0;

  constructor(private readonly db: Queryable) {}

  async asOf(occurredAtMs: number): Promise<readonly RuleRow[]> {
    if (occurredAtMs >= this.loadedAtMs) {
      const started = Date.now();
      this.rules = await loadRules(this.db);
      this.loadedAtMs = started;
    }
    return this.rules;
  }
}

/**
 * Applies the matching rules to new content in `tx`: one report by the rules naming the
 * keywords (priority: 10 plus each rule's raise), then for a post the strongest effect:
 * TAKEDOWN (auto-hide) or LABEL_SENSITIVE (auto-label) by reviewer 0, the ticket left
 * open for review.
 */
export async function applyRules(ctx: ModerationContext, tx: Tx, subject: SubjectRef, content: Content, matched: readonly RuleRow[]): Promise<void> {
  if (!matched.length) return;
  const adapter = adapters.get(subject.type)!;
  const { ticket, isNew } = await fileReport(ctx, tx, {
    subject,
    content,
    contentType: adapter.contentType,
    points: 10 + matched.reduce((n, r) => n + r.raisePoints, 0),
    openPoints: 0,
    reporterId: 0n,
    reasonType: ReasonType.OTHER,
    reasonText: `keyword rules: ${matched.map((r) => r.keyword).join(", ")}`,
  });
  // The rules report a subject once per round: a later event (an edit) adds no second action.
  if (!isNew || subject.type !== SubjectType.POST) return;
  const hide = matched.some((r) => r.effect === RuleEffect.AUTO_HIDE);
  const label = matched.some((r) => r.effect === RuleEffect.AUTO_LABEL);
  if (!hide && !label) return;
  await recordAction(ctx, tx, {
    ticket,
    type: hide ? ActionType.TAKEDOWN : ActionType.LABEL_SENSITIVE,
    reviewerId: 0n,
    reason: `pending review (keyword rules: ${matched.map((r) => r.keyword).join(", ")})`,
    keepOpen: true,
  });
}
