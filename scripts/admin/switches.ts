/**
 * `bun run admin switches`: the kill switches (kit/kill-switches.ts) through
 * AdminService on any service (they live in NATS, so every service answers alike).
 */
import { toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  AdminService,
  KillSwitchKind,
  ListKillSwitchHistoryResponseSchema,
  ListKillSwitchesResponseSchema,
  SetKillSwitchResponseSchema,
  type KillSwitch,
} from "#gen/oasis/admin/v1/admin_service_pb.ts";
import { connectOperator, serviceNames } from "./lib/connection.ts";
import { actorOf, output, parse, table, UsageError, type AdminCommand } from "./lib/command.ts";

const kinds: Record<string, KillSwitchKind> = {
  "read-only": KillSwitchKind.READ_ONLY,
  "disable-uploads": KillSwitchKind.DISABLE_UPLOADS,
  "disable-method": KillSwitchKind.DISABLE_METHOD,
  "fanout-pull": KillSwitchKind.FANOUT_PULL_ON_READ,
  shed: KillSwitchKind.SHED,
  "freeze-user": KillSwitchKind.FREEZE_USER,
};
const kindName = (k: KillSwitchKind) => Object.entries(kinds).find(([, v]) => v === k)?.[0] ?? String(k);

const help = `bun run admin switches <list|set|clear|history> [options]

The kill switches ("the red button"): every edge and service applies a change within
a second, without a restart. Each change records who (--actor, default $USER), when
and why (--reason, required).

  switches list                          the switches that are on
  switches set <kind> [target] --reason R [--share S] [--actor A]
  switches clear <kind> [target] --reason R [--actor A]
  switches history [--limit N]           every change, newest first (default 50)

Kinds and targets:
  read-only                  writes and uploads refused; reads and sign-in go on
  disable-uploads            uploads refused
  disable-method <name>      a method (oasis.post.v1.PostService/CreatePost) or a
                             whole service (oasis.post.v1.PostService) refused
  fanout-pull                feed fan-out stops; new posts are merged at read time
  shed <class> --share S     a share S in (0, 1] of a route class refused with 503
                             (auth, read, write, upload, stream)
  freeze-user <user id>      one user's writes refused

Options: --service NAME (the service to ask; default: the first one deployed),
--json (output as JSON).

Example: bun run admin switches set shed read --share 0.5 --reason "incident 42: db overload"`;

function line(s: KillSwitch): string[] {
  return [kindName(s.kind), s.target, s.kind === KillSwitchKind.SHED ? String(s.share) : "", s.actor, s.updateTime ? timestampDate(s.updateTime).toISOString() : "", s.reason];
}

export const command: AdminCommand = {
  name: "switches",
  summary: "kill switches: list, set, clear, history (read-only, uploads, methods, fan-out, shed, freeze)",
  help,
  async run(args, opts) {
    const { values, positionals } = parse(args, {
      reason: { type: "string" },
      actor: { type: "string" },
      share: { type: "string" },
      limit: { type: "string" },
      service: { type: "string" },
    });
    const [verb, kindArg, target = ""] = positionals;
    const admin = connectOperator().client(AdminService, values.service ?? serviceNames()[0]!);
    if (verb === "list" || verb === undefined) {
      const res = await admin.listKillSwitches({});
      output(opts, toJson(ListKillSwitchesResponseSchema, res), () =>
        res.switches.length ? table([["KIND", "TARGET", "SHARE", "BY", "SINCE", "WHY"], ...res.switches.map(line)]) : "no kill switch is on",
      );
      return;
    }
    if (verb === "history") {
      const res = await admin.listKillSwitchHistory({ pageSize: Number(values.limit ?? 50) });
      output(opts, toJson(ListKillSwitchHistoryResponseSchema, res), () =>
        table([["REV", "ACTION", "KIND", "TARGET", "SHARE", "BY", "WHEN", "WHY"], ...res.changes.map((c) => [String(c.revision), c.on ? "set" : "clear", ...line(c.switch!)])]),
      );
      return;
    }
    if (verb !== "set" && verb !== "clear") throw new UsageError(`unknown verb "${verb}"`);
    const kind = kinds[kindArg ?? ""];
    if (kind === undefined) throw new UsageError(`unknown kind "${kindArg ?? ""}"; one of ${Object.keys(kinds).join(", ")}`);
    if (!values.reason) throw new UsageError("--reason is required: the audit trail records why");
    const share = values.share === undefined ? (kind === KillSwitchKind.SHED && verb === "set" ? NaN : 0) : Number(values.share);
    if (!Number.isFinite(share)) throw new UsageError("shed needs --share, a number in (0, 1]");
    const res = await admin.setKillSwitch({ kind, target, on: verb === "set", share, actor: actorOf(values.actor), reason: values.reason });
    output(opts, toJson(SetKillSwitchResponseSchema, res), () => `${verb === "set" ? "set" : "cleared"} ${kindName(kind)}${target ? ` ${target}` : ""} (revision ${res.revision})`);
  },
};
