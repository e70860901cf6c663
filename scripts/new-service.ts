/**
 * `bun run new-service <name>`: writes a working service in the house shape (the shape of
 * services/chat) and registers it everywhere a service is named, then regenerates.
 *
 * Writes, from scripts/templates/service/ (placeholders {{name}}, {{Name}}, {{camel}},
 * {{kebab}}, {{NAME}}, {{short}}):
 * - proto/oasis/<name>/v1/: `<name>.proto` (the Entry resource), `<name>_service.proto`
 *   (CreateEntry ACCESS_USER and GetEntry ACCESS_PUBLIC, each with its google.api.http
 *   route under /v1/<kebab-name>/), `errors.proto`, `events.proto` (EntryCreated);
 * - services/<name>/: config.ts (kit/env.ts readers), context.ts, app.ts, main.ts,
 *   service.ts (the routes merged), routes/ (one file per RPC), domain/ (model with the
 *   store's interface, rules, use cases, errors), store.ts, migrations/0001_<name>.sql,
 *   events.ts, <name>.test.ts (a unit test and one edge-to-store test).
 * Registers it (each file parsed, so concurrent additions by others merge cleanly):
 * - mesh.config.ts: `{ name, port, protoPackage }` with the next free port (highest + 1);
 * - edge/services.ts: the import and the descriptor in `edgeServices`;
 * - deploy/generate.ts: `upstreamsOf.<name> = []`, then deploy/k8s/ is regenerated;
 * - docs/architecture.md: a section in "2. Services".
 * tests/authz-matrix.test.ts needs no edit: it takes every service of edge/services.ts.
 * Then runs `npm run generate` (buf generate, gen/openapi.json).
 *
 * Options: `--no-generate` skips the final generate step (tests); `--root <dir>` works on
 * another copy of the repository. Exits 1 with a reason for a bad or taken name.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

/** The spellings of a service name used across the files. */
export interface Names {
  /** lower_snake: mesh name, folder, proto package segment, database suffix. */
  readonly name: string;
  /** PascalCase: `{{Name}}Service`, `{{Name}}Config`. */
  readonly Name: string;
  /** camelCase: `{{camel}}Service(ctx)`. */
  readonly camel: string;
  /** kebab-case: REST path segment. */
  readonly kebab: string;
  /** UPPER_SNAKE: env variables. */
  readonly NAME: string;
  /** Up to 12 characters for test handles. */
  readonly short: string;
}

/** Names a service may not take (kit and tool folders, the edge). */
const reserved = new Set(["edge", "kit", "gen", "api", "shared", "tests", "testbeds", "scripts", "deploy", "bench", "demo", "dlq", "live"]);

/** The spellings of `name`; throws for a name that is not lower_snake of 2-30 characters or is reserved. */
export function namesOf(name: string): Names {
  if (!/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/.test(name) || name.length < 2 || name.length > 30) {
    throw new Error(`service name "${name}" must be lower_snake_case, 2-30 characters, starting with a letter (e.g. demo_echo)`);
  }
  if (reserved.has(name)) throw new Error(`service name "${name}" is reserved`);
  const parts = name.split("_");
  const Name = parts.map((p) => p[0]!.toUpperCase() + p.slice(1)).join("");
  return { name, Name, camel: Name[0]!.toLowerCase() + Name.slice(1), kebab: parts.join("-"), NAME: name.toUpperCase(), short: name.slice(0, 12) };
}

function fill(template: string, n: Names, extra: Record<string, string> = {}): string {
  const values: Record<string, string> = { ...n, ...extra };
  return template.replace(/\{\{(\w+)\}\}/g, (m, k: string) => {
    if (!(k in values)) throw new Error(`unknown placeholder ${m}`);
    return values[k]!;
  });
}

/** Where each template goes, relative to the repository root. */
function targets(n: Names): Record<string, string> {
  const proto = `proto/oasis/${n.name}/v1`;
  const svc = `services/${n.name}`;
  return {
    "proto/entry.proto.tmpl": `${proto}/${n.name}.proto`,
    "proto/service.proto.tmpl": `${proto}/${n.name}_service.proto`,
    "proto/errors.proto.tmpl": `${proto}/errors.proto`,
    "proto/events.proto.tmpl": `${proto}/events.proto`,
    "service/config.ts.tmpl": `${svc}/config.ts`,
    "service/context.ts.tmpl": `${svc}/context.ts`,
    "service/app.ts.tmpl": `${svc}/app.ts`,
    "service/main.ts.tmpl": `${svc}/main.ts`,
    "service/service.ts.tmpl": `${svc}/service.ts`,
    "service/events.ts.tmpl": `${svc}/events.ts`,
    "service/store.ts.tmpl": `${svc}/store.ts`,
    "service/migrations/0001.sql.tmpl": `${svc}/migrations/0001_${n.name}.sql`,
    "service/domain/model.ts.tmpl": `${svc}/domain/model.ts`,
    "service/domain/errors.ts.tmpl": `${svc}/domain/errors.ts`,
    "service/domain/rules.ts.tmpl": `${svc}/domain/rules.ts`,
    "service/domain/entries.ts.tmpl": `${svc}/domain/entries.ts`,
    "service/routes/create-entry.ts.tmpl": `${svc}/routes/create-entry.ts`,
    "service/routes/get-entry.ts.tmpl": `${svc}/routes/get-entry.ts`,
    "service/service.test.ts.tmpl": `${svc}/${n.name}.test.ts`,
  };
}

/** Every template file under `dir`, relative to it. */
function templateFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...templateFiles(p).map((f) => join(entry, f)));
    else out.push(entry);
  }
  return out;
}

/** The entries of mesh.config.ts's `mesh` array, parsed from its source. */
export function meshEntries(source: string): Array<{ name: string; port: number }> {
  const body = /export const mesh[^=]*=\s*\[([\s\S]*?)\n\];/.exec(source)?.[1];
  if (body === undefined) throw new Error("mesh.config.ts: no `export const mesh = [ ... ];` array");
  return [...body.matchAll(/\{\s*name:\s*"([^"]+)",\s*port:\s*(\d+)/g)].map((m) => ({ name: m[1]!, port: Number(m[2]) }));
}

/** mesh.config.ts with `n` appended to the mesh array on the next free port. */
export function registerInMesh(source: string, n: Names): { source: string; port: number } {
  const entries = meshEntries(source);
  if (entries.some((e) => e.name === n.name)) throw new Error(`mesh.config.ts already has a service "${n.name}"`);
  const port = Math.max(...entries.map((e) => e.port)) + 1;
  const line = `  { name: "${n.name}", port: ${port}, protoPackage: "oasis.${n.name}.v1" },`;
  const out = source.replace(/(export const mesh[^=]*=\s*\[[\s\S]*?)(\n\];)/, (_m, head: string, tail: string) => `${head}\n${line}${tail}`);
  return { source: out, port };
}

/** edge/services.ts with the service's descriptor imported and listed in `edgeServices`. */
export function registerInEdge(source: string, n: Names): string {
  const imp = `import { ${n.Name}Service } from "#gen/oasis/${n.name}/v1/${n.name}_service_pb.ts";`;
  if (source.includes(imp)) throw new Error(`edge/services.ts already imports ${n.Name}Service`);
  const imports = [...source.matchAll(/^import .*;$/gm)];
  const last = imports.at(-1);
  if (!last) throw new Error("edge/services.ts: no imports");
  const at = last.index! + last[0].length;
  let out = `${source.slice(0, at)}\n${imp}${source.slice(at)}`;
  const list = /(export const edgeServices[^=]*=\s*\[[\s\S]*?)(\n\];)/;
  if (!list.test(out)) throw new Error("edge/services.ts: no `export const edgeServices = [ ... ];`");
  out = out.replace(list, (_m, head: string, tail: string) => `${head}\n  ${n.Name}Service,${tail}`);
  return out;
}

/** deploy/generate.ts with `upstreamsOf.<name> = []` (the services it calls: none yet). */
export function registerInDeploy(source: string, n: Names): string {
  const block = /(export const upstreamsOf[^=]*=\s*\{[\s\S]*?)(\n\};)/;
  if (!block.test(source)) throw new Error("deploy/generate.ts: no `export const upstreamsOf = { ... };`");
  if (new RegExp(`\\n\\s*${n.name}:`).test(block.exec(source)![1]!)) throw new Error(`deploy/generate.ts: upstreamsOf already has ${n.name}`);
  return source.replace(block, (_m, head: string, tail: string) => `${head}\n  ${n.name}: [],${tail}`);
}

/** docs/architecture.md with the service's section at the end of "2. Services". */
export function registerInDocs(source: string, n: Names, port: number): string {
  const section = `### ${n.name} :${port} (\`oasis.${n.name}.v1.${n.Name}Service\`)
- **Owns**: \`oasis_${n.name}\`: \`entries\` +kit. No Redis keys. (Made by
  \`bun run new-service ${n.name}\`; say what it owns once it does.)
- **RPCs**: CreateEntry U, GetEntry P.
- **Publishes**: \`oasis.${n.name}.v1.entry_created\`.
- **Consumes / calls**: nothing.

`;
  const next = /\n### Still to come\n/.exec(source) ?? /\n## 3\. /.exec(source);
  if (!next) return `${source.trimEnd()}\n\n${section}`;
  return `${source.slice(0, next.index + 1)}${section}${source.slice(next.index + 1)}`;
}

/** Writes the service under `root` and registers it; returns the files written or changed. */
export function newService(root: string, name: string): { port: number; files: string[] } {
  const n = namesOf(name);
  if (existsSync(join(root, "services", n.name))) throw new Error(`services/${n.name} already exists`);
  if (existsSync(join(root, "proto", "oasis", n.name))) throw new Error(`proto/oasis/${n.name} already exists`);
  const read = (p: string) => readFileSync(join(root, p), "utf8");
  const write = (p: string, text: string) => {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  };
  // Registration first: each step refuses a taken name before anything is written.
  const meshed = registerInMesh(read("mesh.config.ts"), n);
  const edge = registerInEdge(read("edge/services.ts"), n);
  const deploy = registerInDeploy(read("deploy/generate.ts"), n);
  const docs = registerInDocs(read("docs/architecture.md"), n, meshed.port);
  const templates = join(import.meta.dir, "templates", "service");
  const map = targets(n);
  const files: string[] = [];
  for (const t of templateFiles(templates)) {
    const to = map[t];
    if (!to) throw new Error(`scripts/templates/service/${t} has no target in scripts/new-service.ts`);
    write(to, fill(readFileSync(join(templates, t), "utf8"), n, { port: String(meshed.port) }));
    files.push(to);
  }
  write("mesh.config.ts", meshed.source);
  write("edge/services.ts", edge);
  write("deploy/generate.ts", deploy);
  write("docs/architecture.md", docs);
  files.push("mesh.config.ts", "edge/services.ts", "deploy/generate.ts", "docs/architecture.md");
  return { port: meshed.port, files };
}

async function run(cmd: string[], cwd: string): Promise<void> {
  const proc = Bun.spawn(cmd, { cwd, stdout: "inherit", stderr: "inherit", env: { ...process.env, PATH: `${join(cwd, "node_modules", ".bin")}:${process.env.PATH}` } });
  if ((await proc.exited) !== 0) throw new Error(`${cmd.join(" ")} failed`);
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const rootAt = args.indexOf("--root");
  const root = rootAt >= 0 ? args[rootAt + 1]! : join(import.meta.dir, "..");
  const skipGenerate = args.includes("--no-generate");
  const name = args.filter((a, i) => !a.startsWith("--") && (rootAt < 0 || i !== rootAt + 1))[0];
  if (!name) {
    console.error("usage: bun run new-service <name>   (lower_snake_case, e.g. demo_echo)");
    process.exit(2);
  }
  try {
    const { port, files } = newService(root, name);
    for (const f of files) console.log(`  wrote ${relative(root, join(root, f))}`);
    console.log(`new-service: ${name} on port ${port}; regenerating deploy/k8s${skipGenerate ? "" : " and gen/"}`);
    await run([process.execPath, "deploy/generate.ts"], root);
    if (!skipGenerate) await run(["npm", "run", "--silent", "generate"], root);
    console.log(`new-service: done. Next: npm run lint, bun scripts/boundaries.ts, npm test -- services/${name}`);
  } catch (e) {
    console.error(`new-service: ${(e as Error).message}`);
    process.exit(1);
  }
}
