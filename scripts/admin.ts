#!/usr/bin/env bun
/**
 * `bun run admin <command> [args] [--json] [--help]`: the operators' tool. It talks to
 * the mesh as the operator identity (kit/auth.ts), through admin RPCs on the services'
 * own ports (scripts/admin/lib/connection.ts), never to Redis or NATS directly. One
 * module per command in scripts/admin/<name>.ts exporting `command` (lib/command.ts).
 *
 * Exit codes: 0 done, 1 failed (the error is printed), 2 wrong usage.
 */
import { ConnectError } from "@connectrpc/connect";
import { errorReason } from "#kit/errors.ts";
import { UsageError, type AdminCommand } from "./admin/lib/command.ts";
import { command as buckets } from "./admin/buckets.ts";
import { command as consumers } from "./admin/consumers.ts";
import { command as dlq } from "./admin/dlq.ts";
import { command as rateLimits } from "./admin/rate-limits.ts";
import { command as roles } from "./admin/roles.ts";
import { command as reconcile } from "./admin/reconcile.ts";
import { command as reindex } from "./admin/reindex.ts";
import { command as signingKey } from "./admin/signing-key.ts";
import { command as switches } from "./admin/switches.ts";

/** The commands, in help order. A new command is a module in scripts/admin/ and a line here. */
export const commands: readonly AdminCommand[] = [switches, dlq, consumers, rateLimits, roles, buckets, reconcile, reindex, signingKey];

export function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "bun run admin <command> [args] [--json] [--help]",
    "",
    "Operate a running Oasis mesh as the operator identity (admin RPCs, ACCESS_ADMIN).",
    "The operator key comes from OASIS_MESH_KEY_OPERATOR and OASIS_MESH_PUBLIC_KEYS, or",
    "from the file a local `npm run mesh` writes (.oasis/operator.json).",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Global options:",
    "  --json   print the result as JSON (stdout), for scripts",
    "  --help   this text, or a command's own: bun run admin <command> --help",
  ].join("\n");
}

/** Runs one command line; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const wantsHelp = argv.includes("--help") || argv.includes("-h");
  const rest = argv.filter((a) => a !== "--json" && a !== "--help" && a !== "-h");
  const [name, ...args] = rest;
  if (!name || name === "help") {
    console.log(usage());
    return name || wantsHelp ? 0 : 2;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    console.error(`unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  if (wantsHelp) {
    console.log(cmd.help);
    return 0;
  }
  try {
    await cmd.run(args, { json });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${name}: ${err.message}\n\n${cmd.help}`);
      return 2;
    }
    const ce = err instanceof ConnectError ? err : undefined;
    const message = ce ? `${ce.code ? `[${ce.code}] ` : ""}${ce.rawMessage}${errorReason(ce) ? ` (${errorReason(ce)})` : ""}` : (err as Error).message;
    if (json) console.log(JSON.stringify({ error: message }));
    console.error(`${name}: ${message}`);
    return 1;
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
