/**
 * Contract and build checks, run with the tests so CI fails on them: buf lint
 * (STANDARD + comment rules), gen/ as committed is exactly what buf generates
 * from proto/, `npm run breaking` finds no breaking change against main before this
 * change (merge-base on a branch, the previous commit on main), and the
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
 * `npm run breaking` itself (scripts/breaking.ts: buf breaking of proto/ against main's
 * contracts, see there why not buf's git input), as a developer or CI runs it.
 */
test("npm run breaking: no breaking change in proto/ against main before this change", async () => {
  const r = await run(["npm", "run", "--silent", "breaking"]);
  expect(r.out).toMatch(/^buf breaking: no breaking change against [0-9a-f]{40}\n$/);
  expect(r.code).toBe(0);
});

test("npm run breaking catches a removed field", async () => {
  // The same command on a copy of today's contracts with one field deleted must fail,
  // so the check above cannot pass by comparing nothing.
  const copy = mkdtempSync(join(tmpdir(), "oasis-breaking-now-"));
  try {
    cpSync(join(root, "buf.yaml"), join(copy, "buf.yaml"));
    cpSync(join(root, "proto"), join(copy, "proto"), { recursive: true });
    const file = join(copy, "proto", "oasis", "media", "v1", "media.proto");
    const text = readFileSync(file, "utf8");
    const cut = text.replace(/^\s*int32 max_width = \d+;$/m, "");
    expect(cut).not.toBe(text);
    writeFileSync(file, cut);
    const r = await run(["npm", "run", "--silent", "breaking", "--", "--dir", copy]);
    expect(r.code).toBe(1);
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
