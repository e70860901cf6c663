/**
 * The house's boundaries (scripts/boundaries.ts) hold on the tree, and the checker
 * catches each kind of violation when one is planted: a planted file is written into a
 * temporary copy's path list and checked exactly as a tracked file is.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { checkBoundaries, checkFile } from "../scripts/boundaries.ts";

const root = join(import.meta.dir, "..");
const planted = mkdtempSync(join(tmpdir(), "oasis-boundaries-"));
afterAll(() => rmSync(planted, { recursive: true, force: true }));

/** Writes `files` under a fresh root and checks exactly them. */
async function plant(files: Record<string, string>) {
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(planted, path)), { recursive: true });
    writeFileSync(join(planted, path), source);
  }
  return checkBoundaries(planted, Object.keys(files));
}

test("the tree keeps every boundary", async () => {
  const violations = await checkBoundaries(root);
  expect(violations.map((v) => v.message)).toEqual([]);
});

test("a planted cross-service import is a violation naming both services", async () => {
  const violations = await plant({ "services/feed/planted.ts": `import { canSee } from "../post/domain.ts";\nexport const x = canSee;\n` });
  console.log(violations.map((v) => `${v.rule}: ${v.message}`).join("\n"));
  expect(violations.map((v) => v.rule)).toEqual(["cross-service"]);
  expect(violations[0]!.message).toContain("services/post/domain.ts of service post");
});

test("the edge importing a service, production importing test code, kit naming the domain are violations", async () => {
  const violations = await plant({
    "edge/planted.ts": `import type { GraphContext } from "../services/graph/context.ts";\nexport type X = GraphContext;\n`,
    "services/graph/planted-prod.ts": `import { startSocialTestbed } from "../../testbeds/social.ts";\nimport { until } from "#kit/testing/until.ts";\nexport const y = [startSocialTestbed, until];\n`,
    "kit/planted.ts": `export function listFollowers(): number { return 1; } // comments may say post and feed\nexport const s = "a post";\n`,
  });
  expect(violations.map((v) => `${v.rule} ${v.file} ${v.target}`).sort()).toEqual([
    "edge-imports-service edge/planted.ts ../services/graph/context.ts",
    "kit-domain-word kit/planted.ts listFollowers",
    "production-imports-test services/graph/planted-prod.ts #kit/testing/until.ts",
    "production-imports-test services/graph/planted-prod.ts ../../testbeds/social.ts",
  ]);
});

test("shared rules are reached only by the services the allow-list names", async () => {
  const src = `import { canSee } from "../../shared-rules/post-visibility.ts";\nexport const z = canSee;\n`;
  expect(checkFile("services/feed/views.ts", src)).toEqual([]);
  const v = checkFile("services/chat/planted.ts", src);
  expect(v.map((x) => x.rule)).toEqual(["shared-rule"]);
  expect(v[0]!.message).toContain("allowed only to post, feed, notification");
  expect(checkFile("services/chat/planted.ts", `import { x } from "../../shared-rules/unlisted.ts";\n`).map((x) => x.rule)).toEqual(["shared-rule"]);
});

test("a service's domain importing its store is a violation; the store importing the domain is the direction", () => {
  const v = checkFile("services/graph/domain/rules.ts", `import type { RelationFlag } from "../store.ts";\nexport type F = RelationFlag;\n`);
  expect(v.map((x) => x.rule)).toEqual(["domain-imports-store"]);
  expect(checkFile("services/graph/store.ts", `import type { GraphStore } from "./domain/model.ts";\nexport type S = GraphStore;\n`)).toEqual([]);
});

test("tests may use testbeds and their own service; type-only and dynamic imports count too", () => {
  expect(checkFile("services/graph/graph.test.ts", `import { startGraphTestbed } from "../../testbeds/graph.ts";\n`)).toEqual([]);
  expect(checkFile("services/feed/x.ts", `import type { P } from "../post/domain.ts";\nexport type Q = P;\n`).map((v) => v.rule)).toEqual(["cross-service"]);
  expect(checkFile("services/feed/x.ts", `export const m = () => import("../post/store.ts");\n`).map((v) => v.rule)).toEqual(["cross-service"]);
});

test("the edge may import the allow-listed feed page path (EDGE_IMPORTS), and no other feed module", () => {
  expect(checkFile("edge/page-path.ts", `import { FeedPagePath } from "../services/feed/page-path/index.ts";\nexport const p = FeedPagePath;\n`)).toEqual([]);
  const v = checkFile("edge/page-path.ts", `import { ReadModel } from "../services/feed/read-model.ts";\nexport const r = ReadModel;\n`);
  expect(v.map((x) => x.rule)).toEqual(["edge-imports-service"]);
});
