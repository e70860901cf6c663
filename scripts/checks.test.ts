/**
 * Contract and build checks, run with the tests so CI fails on them: buf lint
 * (STANDARD + comment rules), gen/ as committed is exactly what buf generates
 * from proto/, no breaking change against main before this change (merge-base on a
 * branch, the previous commit on main), and the
 * TypeScript compiles.
 */
import { expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = join(import.meta.dir, "..");
const bin = (name: string) => join(root, "node_modules", ".bin", name);

async function run(cmd: string[], cwd = root): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}` } });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, out: out + err };
}

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out;
}

test("buf lint passes (STANDARD plus comment rules)", async () => {
  const r = await run([bin("buf"), "lint"]);
  expect(r.out).toBe("");
  expect(r.code).toBe(0);
});

/**
 * What gen/ must equal: what is committed at HEAD, in every mode. `npm ci` runs
 * `buf generate` in postinstall, so the working tree's gen/ may have just been rewritten
 * and comparing with it would prove nothing. A regenerated gen/ passes once committed
 * (commit proto/ and gen/ together). This extracts HEAD's gen/ under `into`/gen.
 */
async function extractCommittedGen(into: string): Promise<string> {
  mkdirSync(into, { recursive: true });
  const r = await run(["sh", "-c", `git archive HEAD gen | tar -x -C ${into}`]);
  expect(r.out).toBe("");
  expect(r.code).toBe(0);
  return join(into, "gen");
}

test("gen/ is exactly what buf generates from proto/", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "oasis-gen-"));
  try {
    const r = await run([bin("buf"), "generate", "--output", join(tmp, "fresh")]);
    expect(r.code).toBe(0);
    const committed = await extractCommittedGen(join(tmp, "committed"));
    const list = (dir: string) => files(join(dir, "oasis")).map((f) => relative(dir, f)).sort();
    const fresh = list(join(tmp, "fresh", "gen"));
    expect(fresh.length).toBeGreaterThan(0);
    expect(list(committed)).toEqual(fresh);
    for (const f of fresh) {
      expect({ file: f, text: readFileSync(join(committed, f), "utf8") }).toEqual({ file: f, text: readFileSync(join(tmp, "fresh", "gen", f), "utf8") });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("gen/openapi.json is what scripts/openapi.ts builds from the contracts", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "oasis-openapi-check-"));
  try {
    const r = await run([process.execPath, join(root, "scripts", "openapi.ts"), join(tmp, "openapi.json")]);
    expect(r.code).toBe(0);
    const committed = await extractCommittedGen(join(tmp, "committed"));
    expect(readFileSync(join(committed, "openapi.json"), "utf8")).toBe(readFileSync(join(tmp, "openapi.json"), "utf8"));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

/**
 * The commit whose contracts today's must stay compatible with: on a branch, where it
 * left main (the merge-base), so everything the branch changed is compared; on main
 * itself (CI's fresh clone), main before its last commit (HEAD's first parent, the state
 * before a merge). A clone without that history (e.g. `--depth 1`) fails here rather
 * than passing with nothing compared.
 */
async function compatibilityBase(): Promise<string> {
  const head = (await run(["git", "rev-parse", "--verify", "HEAD"])).out.trim();
  let main = "";
  for (const ref of ["main", "origin/main"]) {
    const r = await run(["git", "rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
    if (r.code === 0) {
      main = ref;
      break;
    }
  }
  if (!main) throw new Error("no main or origin/main in this clone: the breaking check has nothing to compare with");
  const mergeBase = await run(["git", "merge-base", "HEAD", main]);
  if (mergeBase.code !== 0) throw new Error(`no merge-base of HEAD and ${main} (a shallow clone? git fetch --unshallow): ${mergeBase.out}`);
  if (mergeBase.out.trim() !== head) return mergeBase.out.trim();
  const parent = await run(["git", "rev-parse", "--verify", "--quiet", "HEAD^1"]);
  if (parent.code !== 0) throw new Error("HEAD has no parent commit here (a shallow clone? git fetch --unshallow): the breaking check has nothing to compare with");
  return parent.out.trim();
}

/**
 * `buf breaking` (FILE rules, our files only) of the contracts in `nowDir` against those
 * committed at `base`. The old tree has no proto/vendor (it is never committed): it is
 * exported and given today's vendored protos; both are built as single images (the
 * workspace has two modules).
 */
async function breakingAgainst(base: string, nowDir: string): Promise<{ code: number; out: string }> {
  const tmp = mkdtempSync(join(tmpdir(), "oasis-breaking-"));
  try {
    const archive = await run(["sh", "-c", `git archive ${base} buf.yaml proto | tar -x -C ${tmp}`]);
    expect(archive.code).toBe(0);
    cpSync(join(root, "proto", "vendor"), join(tmp, "proto", "vendor"), { recursive: true });
    const old = await run([bin("buf"), "build", tmp, "--path", join(tmp, "proto", "oasis"), "-o", join(tmp, "old.binpb")]);
    expect(old.out).toBe("");
    const now = await run([bin("buf"), "build", nowDir, "--path", join(nowDir, "proto", "oasis"), "-o", join(tmp, "new.binpb")]);
    expect(now.out).toBe("");
    const config = JSON.stringify({ version: "v2", breaking: { use: ["FILE"] } });
    return await run([bin("buf"), "breaking", join(tmp, "new.binpb"), "--against", join(tmp, "old.binpb"), "--config", config, "--path", "oasis"]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

test("no breaking change in proto/ against main before this change", async () => {
  const base = await compatibilityBase();
  expect(base).toMatch(/^[0-9a-f]{40}$/);
  const r = await breakingAgainst(base, root);
  expect(r.out).toBe("");
  expect(r.code).toBe(0);
});

test("the breaking check catches a removed field", async () => {
  // The same comparison on a copy of today's contracts with one field deleted must fail,
  // so the check above cannot pass by comparing nothing.
  const base = await compatibilityBase();
  const copy = mkdtempSync(join(tmpdir(), "oasis-breaking-now-"));
  try {
    cpSync(join(root, "buf.yaml"), join(copy, "buf.yaml"));
    cpSync(join(root, "proto"), join(copy, "proto"), { recursive: true });
    const file = join(copy, "proto", "oasis", "media", "v1", "media.proto");
    const text = readFileSync(file, "utf8");
    const cut = text.replace(/^\s*int32 max_width = \d+;$/m, "");
    expect(cut).not.toBe(text);
    writeFileSync(file, cut);
    const r = await breakingAgainst(base, copy);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("max_width");
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});

test("TypeScript compiles (strict)", async () => {
  const r = await run([bin("tsc"), "-p", "."]);
  expect(r.out).toBe("");
  expect(r.code).toBe(0);
}, 180_000);
