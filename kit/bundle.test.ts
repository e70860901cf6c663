/**
 * kit/bundle.ts: a bundle's modules see their source paths (import.meta), only the entry
 * is main, an unchanged tree reuses the bundle and a changed input rebuilds it, and
 * bundleFor answers only for entries of the named directory's manifest.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildBundles, bundleFor, repoRoot } from "./bundle.ts";

// Inside the checkout (.data), as real entries are: the bundler's root is the repository.
const src = join(repoRoot, ".data", `bundle-test-${process.pid}`);
const out = join(src, "bundles");
const entry = join(src, "app", "main.ts");
const lib = join(src, "lib", "paths.ts");

function write(libExtra = ""): void {
  mkdirSync(join(src, "app"), { recursive: true });
  mkdirSync(join(src, "lib"), { recursive: true });
  writeFileSync(entry, `import { paths } from "../lib/paths.ts";\nconsole.log(JSON.stringify({ ...paths, entryMain: import.meta.main, entryDir: import.meta.dir }));\n`);
  writeFileSync(
    lib,
    `export const paths = { dir: import.meta.dir, file: import.meta.file, path: import.meta.path, url: import.meta.url, main: import.meta.main };\n${libExtra}`,
  );
}

afterAll(() => rmSync(src, { recursive: true, force: true }));

test("a bundled module sees its source location; only the entry is main; inputs hashed", async () => {
  write();
  const first = await buildBundles([{ name: "app", entry }], out);
  expect(first.built).toBe(true);
  const bundle = bundleFor(entry, { OASIS_SERVICE_BUNDLE_DIR: out })!;
  expect(bundle.startsWith(out)).toBe(true);
  const proc = Bun.spawn([process.execPath, bundle], { stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  expect(stderr).toBe("");
  expect(code).toBe(0);
  expect(JSON.parse(stdout)).toEqual({
    dir: join(src, "lib"),
    file: "paths.ts",
    path: lib,
    url: Bun.pathToFileURL(lib).href,
    main: false,
    entryMain: true,
    entryDir: join(src, "app"),
  });

  // Unchanged: reused. A changed input: rebuilt. Not in the manifest, or no directory: source.
  expect((await buildBundles([{ name: "app", entry }], out)).built).toBe(false);
  write("export const changed = 1;\n");
  expect((await buildBundles([{ name: "app", entry }], out)).built).toBe(true);
  expect(bundleFor(join(src, "lib", "paths.ts"), { OASIS_SERVICE_BUNDLE_DIR: out })).toBeUndefined();
  expect(bundleFor(entry, {})).toBeUndefined();
});
