/**
 * `bun run admin <command> [args] [--json]`: operator commands, one module per command
 * under scripts/admin/ (each exports `command = { name, summary, help, run }`).
 */
import { command as roles } from "./admin/roles.ts";

const commands = [roles];

const argv = process.argv.slice(2);
const json = argv.includes("--json");
const args = argv.filter((a) => a !== "--json");
const [name, ...rest] = args;
const cmd = commands.find((c) => c.name === name);
if (!cmd) {
  console.log(`usage: bun run admin <command> [args] [--json]\n${commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join("\n")}`);
  process.exit(name && name !== "help" ? 2 : 0);
}
try {
  await cmd.run(rest, { json });
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
