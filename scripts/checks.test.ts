/**
 * Contract and build checks, run with the tests so CI fails on them: buf lint
 * (STANDARD + comment rules), gen/ is exactly what buf generates from proto/, no
 * breaking change against the previous state of main, and the TypeScript compiles.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
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

test("gen/ is exactly what buf generates from proto/", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "oasis-gen-"));
  try {
    const r = await run([bin("buf"), "generate", "--output", tmp]);
    expect(r.code).toBe(0);
    const fresh = files(join(tmp, "gen", "oasis")).map((f) => relative(join(tmp, "gen"), f)).sort();
    const committed = files(join(root, "gen", "oasis")).map((f) => relative(join(root, "gen"), f)).sort();
    expect(committed).toEqual(fresh);
    for (const f of fresh) expect(readFileSync(join(root, "gen", f), "utf8")).toBe(readFileSync(join(tmp, "gen", f), "utf8"));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("gen/openapi.json is what scripts/openapi.ts builds from the contracts", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "oasis-openapi-check-"));
  try {
    const r = await run([process.execPath, join(root, "scripts", "openapi.ts"), join(tmp, "openapi.json")]);
    expect(r.code).toBe(0);
    expect(readFileSync(join(root, "gen", "openapi.json"), "utf8")).toBe(readFileSync(join(tmp, "openapi.json"), "utf8"));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("no breaking change in proto/ against the previous commit of main", async () => {
  const git = await run(["git", "rev-parse", "--verify", "--quiet", "main~1"]);
  if (git.code !== 0) return; // a clone without history has nothing to compare with
  const r = await run([bin("buf"), "breaking", "--against", `${root}/.git#ref=main~1`]);
  expect(r.out).toBe("");
  expect(r.code).toBe(0);
});

test("TypeScript compiles (strict)", async () => {
  const r = await run([bin("tsc"), "-p", "."]);
  expect(r.out).toBe("");
  expect(r.code).toBe(0);
}, 180_000);
