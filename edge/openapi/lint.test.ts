/**
 * gen/openapi.json against two independent OpenAPI 3.1 validators, run as the CLIs
 * installed in node_modules (pinned in package.json): @redocly/cli `lint` with its
 * recommended rules and Spectral with its `spectral:oas` ruleset (edge/openapi/spectral.yaml).
 * Both must report zero errors. Each is also run on a copy with known faults (a 3.2-only
 * keyword, two operations sharing an id), so neither check passes by checking nothing.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");
const spec = join(root, "gen", "openapi.json");
const bin = (name: string) => join(root, "node_modules", ".bin", name);

interface Finding {
  readonly rule: string;
  readonly severity: "error" | "warning";
  readonly where: string;
}

async function run(cmd: string[]): Promise<string> {
  const proc = Bun.spawn(cmd, { cwd: root, stdout: "pipe", stderr: "pipe" });
  const [out] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  return out;
}

async function redocly(file: string): Promise<Finding[]> {
  const out = JSON.parse(await run([bin("redocly"), "lint", file, "--format=json"])) as {
    problems: { ruleId: string; severity: string; location: { pointer: string }[] }[];
  };
  return out.problems.map((p) => ({ rule: p.ruleId, severity: p.severity === "error" ? "error" : "warning", where: p.location[0]?.pointer ?? "" }));
}

async function spectral(file: string): Promise<Finding[]> {
  const out = JSON.parse(await run([bin("spectral"), "lint", file, "-r", join(import.meta.dir, "spectral.yaml"), "-f", "json", "--quiet"])) as {
    code: string;
    severity: number;
    path: string[];
  }[];
  return out.map((p) => ({ rule: p.code, severity: p.severity === 0 ? "error" : "warning", where: p.path.join(".") }));
}

const errors = (fs: Finding[]) => fs.filter((f) => f.severity === "error");

describe("gen/openapi.json validates", () => {
  test("@redocly/cli lint: zero errors", async () => {
    const found = await redocly(spec);
    expect(errors(found)).toEqual([]);
  }, 60_000);

  test("spectral (spectral:oas): zero errors", async () => {
    const found = await spectral(spec);
    expect(errors(found)).toEqual([]);
  }, 60_000);

  test("both find the faults of a broken copy", async () => {
    const doc = JSON.parse(readFileSync(spec, "utf8"));
    const [first, second] = Object.values(doc.paths as Record<string, Record<string, { operationId: string; responses: Record<string, any> }>>).flatMap((p) => Object.values(p));
    second!.operationId = first!.operationId;
    second!.responses["200"].content = { "text/event-stream": { schema: { type: "string" }, itemSchema: { type: "object" } } };
    const dir = mkdtempSync(join(tmpdir(), "oasis-openapi-lint-"));
    try {
      const broken = join(dir, "openapi.json");
      writeFileSync(broken, JSON.stringify(doc, null, 2));
      const r = errors(await redocly(broken)).map((f) => f.rule);
      expect(r).toContain("operation-operationId-unique");
      expect(r).toContain("struct");
      const s = errors(await spectral(broken)).map((f) => f.rule);
      expect(s).toContain("operation-operationId-unique");
      expect(s).toContain("oas3-schema");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("protovalidate rules reach the schemas", () => {
    const doc = JSON.parse(readFileSync(spec, "utf8"));
    const text = JSON.stringify(doc);
    for (const k of ["maxLength", "pattern", "minimum", "maxItems", "required"]) expect(text).toContain(`"${k}":`);
    // CreatePostRequest in post_service.proto: media_ids repeated.max_items = 9, unique,
    // items int64.gt = 0; caption string.max_bytes = 65536 (no keyword: said in words).
    const create = doc.components.schemas["oasis.post.v1.CreatePostRequest"].properties;
    expect(create.mediaIds).toMatchObject({ maxItems: 9, uniqueItems: true, items: { pattern: "^0*[1-9][0-9]*$" } });
    expect(create.caption.description).toContain("At most 65536 bytes of UTF-8.");
    // Every operation documents 400 and 429 with the RateLimit headers and Retry-After.
    const tooMany = doc.components.responses.TooManyRequests;
    expect(Object.keys(tooMany.headers).sort()).toEqual(["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"]);
    const ops = Object.entries(doc.paths as Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>).flatMap(([p, o]) => Object.values(o).map((op) => ({ p, op })));
    for (const { p, op } of ops.filter(({ p }) => p.startsWith("/v1/") && p !== "/v1/media")) {
      expect({ p, has: ["400", "429"].every((s) => s in op.responses) }).toEqual({ p, has: true });
    }
    const ids = ops.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
