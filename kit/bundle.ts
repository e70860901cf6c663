/**
 * Prebuilt process bundles: one JavaScript file per process entry (a service's or the
 * edge's main.ts), built with Bun.build (target bun), so that a process loads one file
 * instead of ~1,000 modules. Loading from source costs a service ~0.9 s of CPU, and the
 * test suite starts ~300 processes (issue 16, design note 54).
 *
 * Run-time paths stay those of the sources: while bundling, a plugin writes each of our
 * own modules' `import.meta.dir`, `.dirname`, `.path`, `.filename`, `.file` and `.url` as
 * the module's source location (migrations directories, data directories,
 * `createRequire(import.meta.url)`), and `import.meta.main` as false except in the entry
 * (services/search/reindex.ts is a CLI when main, and a module of the search service).
 * Dependencies' own `__dirname` Bun already writes as their installed location. So a
 * bundle works only inside the checkout it was built in: bundles live in
 * `.data/bundles/` (run state) and are never shipped. Native packages (sharp,
 * @node-rs/*) stay external and load from node_modules as from source. No source maps
 * by default (reading one cost a start about half of what the bundle saves): a stack
 * trace names the bundle's line, under a `// services/<name>/<file>.ts` marker of the
 * source module; `OASIS_SERVICE_BUNDLE=0` runs the sources for source lines.
 *
 * `buildBundles` writes `<dir>/<build hash>/<entry path>.js` and `<dir>/manifest.json`
 * (entry path -> bundle path, with a content hash of every input file, so an unchanged
 * tree reuses the bundles); `bundleFor(entry)` answers the bundle to run for an entry when the
 * environment names a bundle directory (`OASIS_SERVICE_BUNDLE_DIR`, set by scripts that
 * built them) and the manifest lists the entry.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { BunPlugin } from "bun";

/** The repository root (kit/..). */
export const repoRoot = resolve(import.meta.dir, "..");

/** Packages loaded from node_modules at run time, never bundled: native addons. */
const externalPackages = ["sharp", "@node-rs/*"];

/** What a manifest's bundles were built with besides the inputs; a change rebuilds. */
const buildOptions = (sourcemap: boolean) => `esm; sourcemap ${sourcemap ? "linked" : "none"}; external ${externalPackages.join(",")}; source paths v1`;

/** manifest.json of a bundle directory. */
interface Manifest {
  /** Bun version and build options that built the bundles (others rebuild). */
  readonly bun: string;
  readonly options: string;
  /** Hash of every input file's path and contents (our sources and dependencies). */
  readonly inputsHash: string;
  /** Repo-relative input paths, for the next run's hash. */
  readonly inputs: readonly string[];
  /** Absolute entry path -> absolute bundle path. */
  readonly bundles: Readonly<Record<string, string>>;
}

/** Where bundles are kept by default: `.data/bundles` of the checkout. */
export const defaultBundleDir = join(repoRoot, ".data", "bundles");

/** The process entries of the mesh: every services/<name>/main.ts that exists, and the edge's. */
export function meshEntries(names: readonly string[]): { name: string; entry: string }[] {
  const entries = names.filter((n) => existsSync(join(repoRoot, "services", n, "main.ts"))).map((n) => ({ name: n, entry: join(repoRoot, "services", n, "main.ts") }));
  return [...entries, { name: "edge", entry: join(repoRoot, "edge", "main.ts") }];
}

/** The import.meta rewrite: our modules' paths as their source's, main only in the entry. */
function sourcePathsPlugin(entries: ReadonlySet<string>): BunPlugin {
  return {
    name: "oasis-source-paths",
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (args.path.includes("/node_modules/")) return undefined;
        const text = await Bun.file(args.path).text();
        if (!text.includes("import.meta")) return undefined;
        const file = args.path;
        const dir = dirname(file);
        const url = pathToFileURL(file).href;
        const contents = text
          .replace(/\bimport\.meta\.(dirname|dir)\b/g, JSON.stringify(dir))
          .replace(/\bimport\.meta\.(filename|path)\b/g, JSON.stringify(file))
          .replace(/\bimport\.meta\.file\b/g, JSON.stringify(file.slice(dir.length + 1)))
          .replace(/\bimport\.meta\.url\b/g, JSON.stringify(url))
          .replace(/\bimport\.meta\.main\b/g, entries.has(file) ? "import.meta.main" : "false");
        return { contents, loader: "ts" };
      });
    },
  };
}

/** Hash of the inputs' paths and contents; undefined when one is gone. */
function hashInputs(inputs: readonly string[]): string | undefined {
  const h = new Bun.CryptoHasher("sha256");
  for (const rel of inputs) {
    const p = join(repoRoot, rel);
    if (!existsSync(p)) return undefined;
    h.update(rel);
    h.update("\0");
    h.update(readFileSync(p));
    h.update("\0");
  }
  return h.digest("hex");
}

function readManifest(dir: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
  } catch {
    return undefined;
  }
}

/**
 * Builds one bundle per entry into `dir` (default `.data/bundles`), unless the manifest
 * there was built by this Bun from inputs whose contents hash the same and lists the same
 * entries; then it reuses them. Returns the manifest's entry -> bundle map, whether it
 * built, and how long the check or build took (ms). `opts.sourcemap` adds linked
 * source maps (bench/service-start.ts measures their cost). Throws with Bun's build log if a build fails.
 */
export async function buildBundles(
  entries: readonly { name: string; entry: string }[],
  dir: string = defaultBundleDir,
  opts: { sourcemap?: boolean } = {},
): Promise<{ dir: string; bundles: Readonly<Record<string, string>>; built: boolean; ms: number }> {
  const t0 = performance.now();
  const options = buildOptions(opts.sourcemap ?? false);
  const old = readManifest(dir);
  if (
    old &&
    old.bun === Bun.version &&
    old.options === options &&
    entries.every((e) => old.bundles[e.entry] && existsSync(old.bundles[e.entry]!)) &&
    hashInputs(old.inputs) === old.inputsHash
  ) {
    return { dir, bundles: old.bundles, built: false, ms: performance.now() - t0 };
  }
  mkdirSync(dir, { recursive: true });
  // Built aside, then moved to a directory named by the inputs' hash: a process of another
  // run in this checkout never loads a half-written bundle.
  const staging = join(dir, `staging-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  const result = await Bun.build({
    entrypoints: entries.map((e) => e.entry),
    root: repoRoot,
    target: "bun",
    format: "esm",
    external: externalPackages,
    // A linked map costs a start ~0.15-0.2 s of CPU (bench/service-start.ts): off.
    sourcemap: opts.sourcemap ? "linked" : "none",
    plugins: [sourcePathsPlugin(new Set(entries.map((e) => e.entry)))],
    naming: "[dir]/[name].[ext]",
    outdir: staging,
    metafile: true,
    throw: false,
  });
  if (!result.success) throw new Error(`bundle build failed:\n${result.logs.map(String).join("\n")}`);
  const meta = typeof result.metafile === "string" ? JSON.parse(result.metafile) : result.metafile;
  const inputs = Object.keys((meta as { inputs: Record<string, unknown> }).inputs)
    .map((p) => relative(repoRoot, resolve(repoRoot, p)))
    .sort();
  const inputsHash = hashInputs(inputs)!;
  const key = new Bun.CryptoHasher("sha256").update(`${inputsHash} ${options} ${Bun.version} ${entries.map((e) => e.entry).join(",")}`).digest("hex").slice(0, 16);
  const final = join(dir, key);
  if (existsSync(final)) rmSync(staging, { recursive: true, force: true });
  else renameSync(staging, final);
  const bundles: Record<string, string> = {};
  for (const e of entries) {
    const out = join(final, relative(repoRoot, e.entry).replace(/\.ts$/, ".js"));
    if (!existsSync(out)) throw new Error(`bundle build wrote no ${out}`);
    bundles[e.entry] = out;
  }
  const manifest: Manifest = { bun: Bun.version, options, inputsHash, inputs, bundles };
  writeFileSync(join(dir, `manifest.json.${process.pid}`), JSON.stringify(manifest, null, 1));
  renameSync(join(dir, `manifest.json.${process.pid}`), join(dir, "manifest.json"));
  // Older builds go once nothing can still be starting from them (an hour).
  for (const d of readdirSync(dir)) {
    const p = join(dir, d);
    if (d !== key && d !== "manifest.json" && Date.now() - statSync(p).mtimeMs > 3_600_000) rmSync(p, { recursive: true, force: true });
  }
  return { dir, bundles, built: true, ms: performance.now() - t0 };
}

let cached: { dir: string; manifest: Manifest | undefined } | undefined;

/**
 * The bundle to run instead of `entry`, or undefined (run the source): only when
 * `OASIS_SERVICE_BUNDLE_DIR` names a directory whose manifest lists the entry. The
 * manifest is read once per process; whoever sets the variable built it for this run.
 */
export function bundleFor(entry: string, env: Record<string, string | undefined> = process.env): string | undefined {
  const dir = env.OASIS_SERVICE_BUNDLE_DIR;
  if (!dir) return undefined;
  if (cached?.dir !== dir) cached = { dir, manifest: readManifest(dir) };
  const out = cached.manifest?.bundles[resolve(entry)];
  return out && existsSync(out) ? out : undefined;
}
