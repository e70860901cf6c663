/**
 * `bun run admin reconcile` (the CLI as a real subprocess, signing as the operator
 * identity, like tests/operations.test.ts) against real identity, graph, media, post,
 * interaction and wallet processes: counters corrupted behind interaction's back in
 * both MySQL post_counts and Redis are reported and repaired by `reconcile counts`, a
 * second run finds nothing, and `reconcile ledger` reports the wallet ledger's
 * conservation as holding. The services' own periodic jobs are set an hour apart, so
 * only the CLI's run can have fixed anything.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { write } from "#kit/mysql.ts";
import { readEdges } from "../demo/data.ts";
import { startSocialTestbed, type SocialTestbed } from "../testbeds/social.ts";
import { openInteractionStores, type InteractionStores } from "../testbeds/interaction.ts";

const root = join(import.meta.dir, "..");
let bed: SocialTestbed;
let stores: InteractionStores;
let users: bigint[];
const members = [...new Set(readEdges().flat())].slice(700, 704);

/** Runs `bun run admin <args>`; its exit code, stdout and stderr. */
async function admin(...args: string[]): Promise<{ code: number; out: string; stderr: string }> {
  const proc = Bun.spawn([process.execPath, join(root, "scripts", "admin.ts"), ...args], { env: bed.mesh.env, stdout: "pipe", stderr: "pipe" });
  const [out, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, stderr };
}

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "interaction", "wallet"], {
    env: { OASIS_INTERACTION_RECONCILE_MS: "3600000", OASIS_WALLET_AUDIT_MS: "3600000" },
  });
  users = await bed.users(members);
  stores = openInteractionStores(bed.mesh.namespace);
}, 240_000);

afterAll(async () => {
  await stores?.close();
  await bed?.stop();
});

test("reconcile counts reports and repairs counters corrupted in MySQL and Redis; reconcile ledger reports conservation", async () => {
  const [author, ...fans] = users as [bigint, ...bigint[]];
  const post = (await bed.post(author).createPost({ mediaIds: [await bed.photo(author, 0)], caption: "counted by the operator" })).post!.postId;
  const other = (await bed.post(author).createPost({ mediaIds: [await bed.photo(author, 1)], caption: "left alone" })).post!.postId;
  for (const fan of fans) await bed.interaction(fan).likePost({ postId: post });
  await bed.interaction(fans[0]!).createComment({ postId: post, text: "a comment" });
  const truth = await stores.recount(post);
  expect(truth).toEqual({ likes: 3n, comments: 1n, refers: 0n });

  // Corrupt both copies: post_counts in MySQL and the served Redis copy.
  await bed.interaction().batchGetCounts({ postIds: [post, other] });
  await write(stores.db, "UPDATE post_counts SET likes = likes + 100, comments = 0 WHERE post_id = ?", [post]);
  const key = stores.key(`pc:${post}`);
  const [version, , , refers] = (await stores.redis.get(key))!.split(":");
  await stores.redis.set(key, `${version}:777:9:${refers}`);
  const served = async () => {
    const c = (await bed.interaction().batchGetCounts({ postIds: [post] })).counts[0]!;
    return { likes: c.likes, comments: c.comments, refers: c.refers };
  };
  expect((await served()).likes).toBe(777n);
  expect((await stores.stored(post)).likes).toBe(103n);

  const text = await admin("reconcile", "counts", "--post", String(post), "--post", String(other));
  console.log(`$ bun run admin reconcile counts --post ${post} --post ${other}\n${text.out}${text.stderr}`);
  expect(text.code).toBe(0);
  expect(text.out.trim()).toBe("counts: 2 posts checked, 1 fixed");
  expect(await served()).toEqual(truth);
  expect(await stores.stored(post)).toEqual(truth);

  // Nothing left to fix: a second run reports zero, as JSON.
  const again = await admin("reconcile", "counts", "--post", String(post), "--json");
  expect(again.code).toBe(0);
  expect(JSON.parse(again.out)).toEqual({ checked: "1", fixed: "0" });

  const ledger = await admin("reconcile", "ledger");
  console.log(`$ bun run admin reconcile ledger\n${ledger.out}${ledger.stderr}`);
  expect(ledger.code).toBe(0);
  expect(ledger.out.split("\n")[0]).toMatch(/^ledger: ok \(\d+ accounts\)$/);
  const audit = await admin("reconcile", "ledger", "--json");
  expect(audit.code).toBe(0);
  const report = JSON.parse(audit.out);
  expect(report.ok).toBe(true);
  expect(report.problems).toEqual([]);
  expect(report.debitsPosted).toBe(report.creditsPosted);
  expect(report.debitsPending).toBe(report.creditsPending);
  expect(report.driftedAccountIds).toEqual([]);
  expect(report.negativeAccountIds).toEqual([]);

  // Usage errors exit 2 with the command's help.
  const wrong = await admin("reconcile", "everything");
  expect(wrong.code).toBe(2);
  expect(wrong.stderr).toContain('unknown job "everything"');
}, 120_000);
