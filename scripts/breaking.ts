/**
 * `npm run breaking`: `buf breaking` (FILE rules, our files only) of the contracts in a
 * checkout against those committed at a base commit, from any clone that has main's
 * history.
 *
 * Why not `buf breaking --against '.git#branch=main'`: the workspace's second module,
 * proto/vendor, is made at install (scripts/vendor-protos.ts) and git-ignored, so the git
 * input has no vendored protos and its build fails on every clean clone. Here the base's
 * buf.yaml and proto/ are exported with `git archive`, given this checkout's vendored
 * protos, and both sides are built as single images (`buf build --path proto/oasis`),
 * which are then compared.
 *
 * The base (`compatibilityBase`): on a branch, where it left main (the merge-base), so
 * everything the branch changed is compared; on main itself (CI's fresh clone), main
 * before its last commit (HEAD's first parent, the state before a merge). A shallow
 * clone fails with a message rather than passing with nothing compared.
 *
 * Run: bun scripts/breaking.ts [--against <commit>] [--dir <checkout with buf.yaml and proto/>]
 * Exit code 0 when compatible, 1 with buf's findings otherwise, 2 on a usage or build error.
 */
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const buf = join(root, "node_modules", ".bin", "buf");

export interface RunResult {
  readonly code: number;
  readonly out: string;
}

async function run(cmd: string[], cwd = root): Promise<RunResult> {
  const proc = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, out: out + err };
}

/** The commit today's contracts must stay compatible with (see the file comment). */
export async function compatibilityBase(): Promise<string> {
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
 * `buf breaking` of the contracts in `nowDir` against those committed at `base`. Throws
 * when either side does not build (that is not a compatibility verdict).
 */
export async function breakingAgainst(base: string, nowDir = root): Promise<RunResult> {
  const tmp = mkdtempSync(join(tmpdir(), "oasis-breaking-"));
  try {
    const archive = await run(["sh", "-c", `git archive ${base} buf.yaml proto | tar -x -C ${tmp}`]);
    if (archive.code !== 0) throw new Error(`git archive ${base}: ${archive.out}`);
    if (!existsSync(join(root, "proto", "vendor"))) throw new Error("proto/vendor is missing: `npm ci` (or `bun scripts/vendor-protos.ts`) makes it");
    cpSync(join(root, "proto", "vendor"), join(tmp, "proto", "vendor"), { recursive: true });
    const old = await run([buf, "build", tmp, "--path", join(tmp, "proto", "oasis"), "-o", join(tmp, "old.binpb")]);
    if (old.code !== 0 || old.out) throw new Error(`buf build of ${base}: ${old.out}`);
    const now = await run([buf, "build", nowDir, "--path", join(nowDir, "proto", "oasis"), "-o", join(tmp, "new.binpb")]);
    if (now.code !== 0 || now.out) throw new Error(`buf build of ${nowDir}: ${now.out}`);
    const config = JSON.stringify({ version: "v2", breaking: { use: ["FILE"] } });
    return await run([buf, "breaking", join(tmp, "new.binpb"), "--against", join(tmp, "old.binpb"), "--config", config, "--path", "oasis"]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  try {
    const base = opt("--against") ?? (await compatibilityBase());
    const r = await breakingAgainst(base, opt("--dir") ?? root);
    if (r.out) process.stdout.write(r.out);
    console.error(r.code === 0 ? `buf breaking: no breaking change against ${base}` : `buf breaking: breaking changes against ${base}`);
    process.exit(r.code === 0 ? 0 : 1);
  } catch (err) {
    console.error(`buf breaking: ${(err as Error).message}`);
    process.exit(2);
  }
}
