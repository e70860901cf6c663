/**
 * The house's boundaries, checked from the imports of every tracked .ts file (gen/ and
 * node_modules aside). Bun's own transpiler lists each file's imports
 * (`Bun.Transpiler.scanImports`: static and dynamic `import`s, `require`s), so the check
 * reads what the runtime reads; type-only imports, which it erases, are added from the
 * source (`importsOf`).
 *
 * The rules (docs/architecture.md section "Boundaries"):
 * 1. `cross-service`: a file under services/<a>/ imports nothing under services/<b>/.
 * 2. `edge-imports-service`: the edge imports no service (it knows them by contract, gen/),
 *    except the modules EDGE_IMPORTS names (the feed's page path, design note 28; search's,
 *    note 29).
 * 3. `service-imports-edge`: a service's code imports nothing of the edge (its tests may
 *    read a limit the edge publishes, as notification's stream test does).
 * 4. `production-imports-test`: production code (services/, edge/, kit/, shared-rules/,
 *    mesh.config.ts, minus test code) imports only production code, gen/ and packages:
 *    never test code (`*.test.ts`, `testing.ts`, `testing/`, `testdata/`, `tests/`,
 *    `testbeds/`) nor tooling (scripts/, bench/, demo/). Test support has one home:
 *    testbeds/ for testbeds that know the domain (they may start and reach into any
 *    service), kit/testing/ for the domain-free rest.
 * 5. `kit-imports-domain`: kit/ imports kit/, mesh.config.ts and of gen/ only the
 *    shared contracts (gen/oasis/api/, gen/oasis/admin/ (the AdminService every process
 *    serves, kit/admin-service.ts), google/, grpc/): no service's contract.
 * 6. `kit-domain-word`: kit's code (tests aside) has no identifier made of a domain word
 *    (DOMAIN_WORDS; comments and strings are not code). Words as generic as "message",
 *    "identity" (the mesh identity) or "block" are left out: the kit uses them in their
 *    general sense. Hashtags and @handles are kit/text.ts's on purpose (one parser for
 *    every place people write), so they are not on the list either.
 * 7. `shared-rule`: a module of shared-rules/ is imported only by the services the
 *    allow-list names for it, and imports only kit/ and gen/.
 * 8. `domain-imports-store`: a service's domain (`domain.ts`, `domain/`) does not import
 *    its `store.ts`: the store implements the domain's interface, not the reverse.
 *
 * `bun scripts/boundaries.ts` prints the violations and exits 1 when there are any;
 * tests/boundaries.test.ts runs it on the tree and on planted violations.
 */
import { dirname, join, normalize, relative } from "node:path";

/** Words of the product that kit code must not use as (parts of) identifiers. */
export const DOMAIN_WORDS = [
  "post", "posts", "feed", "feeds", "follow", "follows", "follower", "followers", "following",
  "wallet", "wallets", "drops", "chat", "chats", "convo", "convos", "like", "likes", "liker",
  "likers", "comment", "comments", "notification", "notifications", "profile", "profiles",
  "tip", "tips", "mute", "mutes", "timeline", "timelines", "graph", "interaction", "moderation",
] as const;

/** Which services may import each module of shared-rules/ (and no one else may). */
export const SHARED_RULES: Readonly<Record<string, readonly string[]>> = {
  "shared-rules/post-visibility.ts": ["post", "feed", "notification", "search", "interaction"],
  "shared-rules/profile-visibility.ts": ["identity", "search"],
  "shared-rules/moderation-action.ts": ["identity", "post", "interaction", "search"],
  "shared-rules/post-created-head.ts": ["feed", "interaction"],
  "shared-rules/author-privacy.ts": ["post", "interaction"],
  "shared-rules/graph-small-sets.ts": ["graph", "interaction"],
  "shared-rules/post-cache.ts": ["post", "interaction"],
  "shared-rules/media-cache.ts": ["media", "post"],
};

/**
 * The service modules the edge may import (and what they import, within their service):
 * the feed's page path, which reads the feed's Redis with the feed's own rules so the edge
 * serves timeline pages without a hop (edge/page-path.ts, design note 28).
 */
export const EDGE_IMPORTS: readonly string[] = ["services/feed/page-path/index.ts", "services/search/page-path.ts"];

export interface Violation {
  readonly rule: string;
  readonly file: string;
  /** The import as written, or the offending identifier for kit-domain-word. */
  readonly target: string;
  readonly message: string;
}

const transpiler = new Bun.Transpiler({ loader: "ts" });

/** Test code: test files and test support, wherever it lives. */
export function isTestCode(path: string): boolean {
  return /\.test\.ts$/.test(path) || /(^|\/)(testing|testdata|tests|testbeds)(\/|\.ts$)/.test(path);
}

function isProductionRoot(path: string): boolean {
  return /^(services|edge|kit|shared-rules)\//.test(path) || path === "mesh.config.ts";
}

function serviceOf(path: string): string | undefined {
  return /^services\/([^/]+)\//.exec(path)?.[1];
}

/** The repository path an import names, or undefined for a package. */
export function resolveImport(from: string, spec: string): string | undefined {
  if (spec.startsWith("./") || spec.startsWith("../")) return normalize(join(dirname(from), spec));
  if (spec.startsWith("#kit/")) return `kit/${spec.slice(5)}`;
  if (spec.startsWith("#gen/")) return `gen/${spec.slice(5)}`;
  return undefined;
}

/**
 * Every module a file imports: what the transpiler keeps (values, dynamic imports,
 * requires) and the type-only imports and re-exports it erases, which still couple
 * the files (read from the source with comments removed).
 */
export function importsOf(text: string): string[] {
  // A shebang line (scripts/admin.ts, a package bin) is not TypeScript to the transpiler.
  const source = text.startsWith("#!") ? text.replace(/^#![^\n]*/, "") : text;
  const specs = new Set(transpiler.scanImports(source).map((i) => i.path));
  const code = source.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/(^|[^:\\])\/\/.*$/gm, "$1");
  for (const m of code.matchAll(/(?:^|[;\n])\s*(?:import|export)\b[^;"'`]*?\bfrom\s*["']([^"']+)["']/g)) specs.add(m[1]!);
  return [...specs];
}

/** Identifiers of a file's code, comments and string contents removed. */
function identifiers(source: string): string[] {
  const code = source
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/(^|[^:\\])\/\/.*$/gm, "$1")
    .replace(/`(?:\\[\s\S]|[^`\\])*`|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g, '""');
  return code.match(/[A-Za-z_$][A-Za-z0-9_$]*/g) ?? [];
}

/** `listFollowerIds` -> list, follower, ids; `MAX_POSTS` -> max, posts. */
function words(identifier: string): string[] {
  return identifier
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .split(/[\s_$]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

/** Checks one file (path relative to the repository root, source text). */
export function checkFile(path: string, source: string): Violation[] {
  const out: Violation[] = [];
  const add = (rule: string, target: string, message: string) => out.push({ rule, file: path, target, message });
  const fromService = serviceOf(path);
  const fromTest = isTestCode(path);
  const production = isProductionRoot(path) && !fromTest;
  let imports: string[];
  try {
    imports = importsOf(source);
  } catch (e) {
    return [{ rule: "parse", file: path, target: "", message: `${path} does not parse: ${(e as Error).message}` }];
  }
  for (const spec of imports) {
    const target = resolveImport(path, spec);
    if (target === undefined) continue;
    const toService = serviceOf(target);
    if (fromService && toService && toService !== fromService) {
      add("cross-service", spec, `${path} (service ${fromService}) imports ${target} of service ${toService}: call it over the mesh, or move a shared rule to shared-rules/ and allow-list it`);
    }
    if (path.startsWith("edge/") && toService && !EDGE_IMPORTS.includes(target)) {
      add("edge-imports-service", spec, `${path} (edge) imports ${target} of service ${toService}: the edge knows services only by their contracts in gen/`);
    }
    if (fromService && !fromTest && target.startsWith("edge/")) {
      add("service-imports-edge", spec, `${path} (service ${fromService}) imports ${target} of the edge`);
    }
    if (production && !(isProductionRoot(target) && !isTestCode(target)) && !target.startsWith("gen/")) {
      add("production-imports-test", spec, `${path} is production code and imports ${target}, which is test code or tooling`);
    }
    if (path.startsWith("kit/") && !(target.startsWith("kit/") || target === "mesh.config.ts" || (target.startsWith("gen/") && !target.startsWith("gen/oasis/")) || target.startsWith("gen/oasis/api/") || target.startsWith("gen/oasis/admin/"))) {
      if (!fromTest) add("kit-imports-domain", spec, `${path} (kit) imports ${target}: the kit knows no service and no domain contract`);
    }
    if (fromService && /^services\/[^/]+\/domain(\.ts$|\/)/.test(path) && target === `services/${fromService}/store.ts`) {
      add("domain-imports-store", spec, `${path} (domain) imports ${target}: declare what the domain needs in domain/model.ts and let store.ts implement it`);
    }
    if (target.startsWith("shared-rules/")) {
      const allowed = SHARED_RULES[target];
      if (!allowed) add("shared-rule", spec, `${path} imports ${target}, which is not in the shared-rules allow-list (scripts/boundaries.ts SHARED_RULES)`);
      else if (fromService && !allowed.includes(fromService)) add("shared-rule", spec, `${path} imports ${target}, allowed only to ${allowed.join(", ")}`);
    }
    if (path.startsWith("shared-rules/") && !(target.startsWith("kit/") || target.startsWith("gen/") || target.startsWith("shared-rules/"))) {
      add("shared-rule", spec, `${path} (shared rule) imports ${target}: shared rules import only kit/ and gen/`);
    }
  }
  if (path.startsWith("kit/") && !fromTest) {
    const domain = new Set<string>(DOMAIN_WORDS);
    const seen = new Set<string>();
    for (const id of identifiers(source)) {
      if (seen.has(id)) continue;
      seen.add(id);
      const hit = words(id).find((w) => domain.has(w));
      if (hit) add("kit-domain-word", id, `${path} (kit) names "${id}", which holds the domain word "${hit}"`);
    }
  }
  return out;
}

/** Every tracked .ts file of the repository at `root`, gen/ aside. */
export async function trackedFiles(root: string): Promise<string[]> {
  const listed = await Bun.$`git ls-files --cached --others --exclude-standard -- '*.ts'`.cwd(root).quiet().text();
  return listed.split("\n").filter((f) => f && !f.startsWith("gen/") && !f.startsWith("node_modules/"));
}

/** Checks every tracked .ts file under `root` (or `files`, paths relative to root). */
export async function checkBoundaries(root: string, files?: readonly string[]): Promise<Violation[]> {
  const list = files ?? (await trackedFiles(root));
  const out: Violation[] = [];
  for (const f of list) {
    const file = Bun.file(join(root, f));
    if (!(await file.exists())) continue;
    out.push(...checkFile(relative(root, join(root, f)), await file.text()));
  }
  return out;
}

if (import.meta.main) {
  const root = process.argv[2] ?? join(import.meta.dir, "..");
  const violations = await checkBoundaries(root);
  for (const v of violations) console.log(`${v.rule}: ${v.message}`);
  console.log(violations.length === 0 ? "boundaries: no violations" : `boundaries: ${violations.length} violation(s)`);
  process.exit(violations.length === 0 ? 0 : 1);
}
