/**
 * Contract and build checks, run with the tests so CI fails on them: buf lint
 * (STANDARD + comment rules), gen/ as committed is exactly what buf generates
 * from proto/, no breaking change against the previous state of main, and the
 * TypeScript compiles.
 */
import { expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
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

test("no breaking change in proto/ against the previous commit of main", async () => {
  const rev = await run(["git", "rev-parse", "--verify", "--quiet", "main~1"]);
  if (rev.code !== 0) return; // a clone without history has nothing to compare with
  // The old tree has no proto/vendor (it is never committed): export it and add today's
  // vendored protos, then compare against an image built from that.
  const tmp = mkdtempSync(join(tmpdir(), "oasis-breaking-"));
  try {
    const archive = await run(["sh", "-c", `git archive ${rev.out.trim()} buf.yaml proto | tar -x -C ${tmp}`]);
    expect(archive.code).toBe(0);
    cpSync(join(root, "proto", "vendor"), join(tmp, "proto", "vendor"), { recursive: true });
    // Compared as two single images (the workspace has two modules) with the FILE rules,
    // on our files only.
    const old = await run([bin("buf"), "build", tmp, "--path", join(tmp, "proto", "oasis"), "-o", join(tmp, "old.binpb")]);
    expect(old.out).toBe("");
    const now = await run([bin("buf"), "build", root, "--path", join(root, "proto", "oasis"), "-o", join(tmp, "new.binpb")]);
    expect(now.out).toBe("");
    const config = JSON.stringify({ version: "v2", breaking: { use: ["FILE"] } });
    const r = await run([bin("buf"), "breaking", join(tmp, "new.binpb"), "--against", join(tmp, "old.binpb"), "--config", config, "--path", "oasis"]);
    expect(r.out).toBe("");
    expect(r.code).toBe(0);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("TypeScript compiles (strict)", async () => {
  const r = await run([bin("tsc"), "-p", "."]);
  expect(r.out).toBe("");
  expect(r.code).toBe(0);
}, 180_000);
