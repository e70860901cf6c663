/** CreateKeywordRule, DeleteKeywordRule (admins) and ListKeywordRules (moderators): the rules before review. */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { write } from "#kit/mysql.ts";
import { create } from "@bufbuild/protobuf";
import { KeywordRuleSchema, type KeywordRule, type ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import type { ModerationContext } from "../context.ts";
import { loadRules, type RuleRow } from "../domain/rules.ts";

const view = (r: RuleRow): KeywordRule =>
  create(KeywordRuleSchema, {
  ruleId: r.ruleId,
  keyword: r.keyword,
  effect: r.effect,
  raisePoints: r.raisePoints,
  createdBy: r.createdBy,
  createTime: timestampFromDate(r.createdAt),
  });

export function keywordRules(ctx: ModerationContext): Pick<ServiceImpl<typeof ModerationService>, "createKeywordRule" | "deleteKeywordRule" | "listKeywordRules"> {
  // The kit's authorize step (app.ts) already refused callers without the role.
  return {
    async createKeywordRule(req) {
      const me = currentCaller().userId!;
      const ruleId = ctx.rt.ids.next();
      const now = new Date();
      await ctx.rt.tx(async (tx) => {
        await write(tx, "INSERT INTO keyword_rules (rule_id, keyword, effect, raise_points, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)", [ruleId, req.keyword, req.effect, req.raisePoints, me, now]);
        await ctx.store.appendOperation(tx, { opId: ctx.rt.ids.next(), actorId: me, kind: "rule", ticketId: 0n, actionId: 0n, detail: JSON.stringify({ added: String(ruleId), keyword: req.keyword, effect: req.effect }) });
      });
      return { rule: view({ ruleId, keyword: req.keyword, effect: req.effect, raisePoints: req.raisePoints, createdBy: me, createdAt: now }) };
    },
    async deleteKeywordRule(req) {
      const me = currentCaller().userId!;
      await ctx.rt.tx(async (tx) => {
        if (await write(tx, "DELETE FROM keyword_rules WHERE rule_id = ?", [req.ruleId])) {
          await ctx.store.appendOperation(tx, { opId: ctx.rt.ids.next(), actorId: me, kind: "rule", ticketId: 0n, actionId: 0n, detail: JSON.stringify({ removed: String(req.ruleId) }) });
        }
      });
      return {};
    },
    async listKeywordRules() {
      return { rules: (await loadRules(ctx.rt.db)).map(view) };
    },
  };
}
