/**
 * The shape of an admin command (scripts/admin/<name>.ts) and what they share: argument
 * parsing with `node:util` parseArgs (strict: an unknown flag is an error), usage
 * errors, and output as text or, with `--json`, one JSON document on stdout.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** One `bun run admin <name>` command. */
export interface AdminCommand {
  readonly name: string;
  /** One line for `bun run admin --help`. */
  readonly summary: string;
  /** The full text of `bun run admin <name> --help`. */
  readonly help: string;
  /** Runs with the arguments after the command's name (global flags removed). */
  run(args: string[], opts: { json: boolean }): Promise<void>;
}

/** Wrong arguments: the dispatcher prints the message and the command's help, exit 2. */
export class UsageError extends Error {}

/** parseArgs, strict, with a UsageError for anything it refuses. */
export function parse<O extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Prints `data` as JSON when asked, else the text lines. */
export function output(opts: { json: boolean }, data: unknown, text: () => string): void {
  console.log(opts.json ? JSON.stringify(data, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2) : text());
}

/** A fixed-width table of rows (first row: headings). */
export function table(rows: readonly (readonly unknown[])[]): string {
  const cells = rows.map((r) => r.map((c) => String(c ?? "")));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

/** The operator's name recorded with changes: --actor, else $USER, else "unknown". */
export function actorOf(flag: string | undefined): string {
  return (flag || process.env.USER || process.env.LOGNAME || "unknown").slice(0, 64);
}
