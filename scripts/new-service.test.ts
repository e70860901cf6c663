/**
 * The generator: `bun run new-service demo_echo` in a throwaway copy of the repository
 * (the tracked and new files, node_modules linked) yields a service that passes buf lint,
 * tsc, the boundary check and its own tests (a unit test and an edge-to-store test with
 * real identity, the new service and the edge) without an edit. Registration parses the
 * files it edits, so another service added meanwhile (moderation on 7011) only moves
 * the new one to the next port.
 */
import { afterAll, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { meshEntries, namesOf, newService, registerInDeploy, registerInEdge, registerInMesh } from "./new-service.ts";

const root = join(import.meta.dir, "..");
const copy = mkdtempSync(join(tmpdir(), "oasis-new-service-"));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

async function run(cmd: string[], cwd: string): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}` } });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, out: out + err };
}

test("names: lower_snake only, and every spelling derived from it", () => {
  expect(namesOf("demo_echo")).toEqual({ name: "demo_echo", Name: "DemoEcho", camel: "demoEcho", kebab: "demo-echo", NAME: "DEMO_ECHO", short: "demo_echo" });
  for (const bad of ["DemoEcho", "demo-echo", "1demo", "edge", "x", "demo__echo"]) expect(() => namesOf(bad)).toThrow();
});

test("registration parses the files: a service added meanwhile moves the new one to the next port", () => {
  const mesh = `export const mesh: readonly MeshEntry[] = [\n  { name: "identity", port: 7001, protoPackage: "oasis.identity.v1" },\n  { name: "moderation", port: 7011, protoPackage: "oasis.moderation.v1" },\n];\n`;
  const n = namesOf("demo_echo");
  const out = registerInMesh(mesh, n);
  expect(out.port).toBe(7012);
  expect(meshEntries(out.source)).toEqual([
    { name: "identity", port: 7001 },
    { name: "moderation", port: 7011 },
    { name: "demo_echo", port: 7012 },
  ]);
  expect(() => registerInMesh(out.source, n)).toThrow('already has a service "demo_echo"');
  const edge = registerInEdge(`import { A } from "#gen/a.ts";\n\nexport const edgeServices: readonly DescService[] = [\n  A,\n  ModerationService,\n];\n`, n);
  expect(edge).toContain('import { DemoEchoService } from "#gen/oasis/demo_echo/v1/demo_echo_service_pb.ts";');
  expect(edge).toContain("  ModerationService,\n  DemoEchoService,\n];");
  expect(registerInDeploy(`export const upstreamsOf: Record<string, readonly string[]> = {\n  moderation: ["post"],\n};\n`, n)).toContain('  moderation: ["post"],\n  demo_echo: [],\n};');
});

test("new-service demo_echo in a copy: buf lint, tsc, boundaries and its own tests pass untouched", async () => {
  const files = (await run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], root)).out.split("\0").filter(Boolean);
  for (const f of files) {
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    cpSync(join(root, f), join(copy, f));
  }
  symlinkSync(join(root, "node_modules"), join(copy, "node_modules"));
  expect((await run(["git", "init", "-q"], copy)).code).toBe(0);

  const made = await run([process.execPath, "scripts/new-service.ts", "demo_echo"], copy);
  console.log(made.out);
  expect(made.code).toBe(0);
  expect(() => newService(copy, "demo_echo")).toThrow("services/demo_echo already exists");

  const lint = await run(["npm", "run", "--silent", "lint"], copy);
  expect({ code: lint.code, out: lint.out }).toEqual({ code: 0, out: "" });
  const boundaries = await run([process.execPath, "scripts/boundaries.ts"], copy);
  expect({ code: boundaries.code, out: boundaries.out.trim() }).toEqual({ code: 0, out: "boundaries: no violations" });
  const tests = await run([process.execPath, "test", "--timeout=120000", "services/demo_echo"], copy);
  console.log(tests.out.split("\n").filter((l) => /\((pass|fail)\)/.test(l)).join("\n"));
  expect(tests.out).toContain(" 0 fail");
  expect(tests.out).toMatch(/ [1-9]\d* pass/);
  expect(tests.code).toBe(0);
}, 300_000);
