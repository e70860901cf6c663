/**
 * `bun run admin rate-limits`: overrides of the edge's rate limits with a TTL, through
 * identity's admin RPC SetEdgeRateLimits (edges reload within 5 s).
 */
import { toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { IdentityService, SetEdgeRateLimitsResponseSchema } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { connectOperator } from "./lib/connection.ts";
import { output, parse, UsageError, type AdminCommand } from "./lib/command.ts";

const help = `bun run admin rate-limits <set|clear> [options]

Overrides the edge's rate limits of some route classes for a while; afterwards the
defaults (edge/rate-limit.ts) apply again by themselves. Edges pick a change up
within 5 s.

  rate-limits set --class C [--per-user N/P] [--per-ip N/P] [--class C ...] --ttl SECONDS
                 N requests per P seconds; classes: auth, read, write, upload, stream.
                 Each --class takes the --per-user/--per-ip that follow it.
  rate-limits clear      removes the override now

Options: --json (output as JSON).

Example: bun run admin rate-limits set --class read --per-ip 20000/60 --ttl 3600`;

/** "100/60" -> {limit: 100, periodSeconds: 60}. */
function limitOf(v: string): { limit: bigint; periodSeconds: number } {
  const m = /^([1-9][0-9]{0,9})\/([1-9][0-9]{0,5})$/.exec(v);
  if (!m) throw new UsageError(`"${v}" is not N/SECONDS, e.g. 100/60`);
  return { limit: BigInt(m[1]!), periodSeconds: Number(m[2]) };
}

export const command: AdminCommand = {
  name: "rate-limits",
  summary: "override the edge's rate limits for a while (with a TTL), or clear the override",
  help,
  async run(args, opts) {
    const [verb, ...rest] = args;
    const identity = connectOperator().client(IdentityService, "identity");
    if (verb === "clear") {
      parse(rest, {});
      await identity.setEdgeRateLimits({ limits: [], ttlSeconds: 0 });
      output(opts, { cleared: true }, () => "override removed; the defaults apply");
      return;
    }
    if (verb !== "set") throw new UsageError(`unknown verb "${verb ?? ""}"`);
    // Flags in order: each --class starts a class, the limits after it belong to it.
    const limits: Array<{ routeClass: string; perUser?: ReturnType<typeof limitOf>; perIp?: ReturnType<typeof limitOf> }> = [];
    let ttl = 0;
    for (let i = 0; i < rest.length; i += 2) {
      const [flag, value] = [rest[i], rest[i + 1]];
      if (value === undefined) throw new UsageError(`${flag} needs a value`);
      if (flag === "--class") limits.push({ routeClass: value });
      else if (flag === "--per-user" || flag === "--per-ip") {
        const cur = limits.at(-1);
        if (!cur) throw new UsageError(`${flag} must follow a --class`);
        cur[flag === "--per-user" ? "perUser" : "perIp"] = limitOf(value);
      } else if (flag === "--ttl") ttl = Number(value);
      else throw new UsageError(`unknown option ${flag}`);
    }
    if (!limits.length) throw new UsageError("name at least one --class");
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 86_400) throw new UsageError("--ttl is required: 1 to 86400 seconds");
    const res = await identity.setEdgeRateLimits({ limits, ttlSeconds: ttl });
    output(opts, toJson(SetEdgeRateLimitsResponseSchema, res), () => `override set until ${res.expireTime ? timestampDate(res.expireTime).toISOString() : "?"}`);
  },
};
