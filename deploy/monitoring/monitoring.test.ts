/**
 * The monitoring files: generated (what is committed is what generate.ts writes),
 * accepted by promtool (`check rules`) and passing their unit tests (`test rules`,
 * rules.test.yaml), the PrometheusRule carrying the same groups, and every metric the
 * rules and dashboards read registered somewhere in the code (a renamed metric would
 * leave an alert that can never fire). The promtool tests are skipped, saying so,
 * only where promtool is not installed (Debian: `apt-get install prometheus`).
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { dashboardNames, files, groups, metricsRead } from "./generate.ts";

const dir = import.meta.dir;
const root = join(dir, "..", "..");
const promtool = Bun.which("promtool");

function run(args: string[]): { code: number; out: string } {
  const p = Bun.spawnSync([promtool!, ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: p.stdout.toString() + p.stderr.toString() };
}

/** Metric names registered in the code (`name: "..."` of prom-client metrics), plus prom-client's histogram series. */
function registeredMetrics(): Set<string> {
  const names = new Set<string>();
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (["node_modules", "gen", ".git", "deploy", ".data"].includes(f)) continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith(".ts") && !f.endsWith(".test.ts")) {
        // `name: "x", help:` of a prom-client metric, or kit/metrics.ts's `gauge("x", "help", ...)`.
        for (const m of readFileSync(p, "utf8").matchAll(/(?:name: |gauge\()"([a-z_][a-z0-9_]*)",\s*\n?\s*(?:help: )?"/g)) {
          names.add(m[1]!);
          for (const s of ["_bucket", "_count", "_sum"]) names.add(m[1]! + s);
        }
      }
    }
  };
  walk(root);
  return names;
}

test("the committed files are what generate.ts writes", () => {
  for (const [path, text] of Object.entries(files())) expect({ path, same: readFileSync(join(dir, path), "utf8") === text }).toEqual({ path, same: true });
  expect(readdirSync(join(dir, "dashboards")).sort()).toEqual(dashboardNames.map((n) => `${n}.json`).sort());
});

test("the PrometheusRule holds exactly the groups of rules.yaml", () => {
  const plain = Bun.YAML.parse(readFileSync(join(dir, "rules.yaml"), "utf8")) as { groups: unknown };
  const cr = Bun.YAML.parse(readFileSync(join(dir, "prometheus-rule.yaml"), "utf8")) as { kind: string; spec: { groups: unknown } };
  expect(cr.kind).toBe("PrometheusRule");
  expect(cr.spec.groups).toEqual(plain.groups);
  const alerts = groups().flatMap((g) => g.rules.map((r) => r.alert).filter(Boolean));
  for (const want of ["EdgeAvailabilityFastBurn", "EdgeLatencySlowBurn", "ServiceAvailabilityFastBurn", "OutboxBacklogOld", "ConsumerLagHigh", "DeadLettersGrowing", "LedgerDrift", "UpstreamReplicaEjected"]) {
    expect(alerts).toContain(want);
  }
});

test("every metric the rules and dashboards read is registered in the code", () => {
  const known = registeredMetrics();
  expect(metricsRead().filter((m) => !known.has(m))).toEqual([]);
  const inDashboards = new Set<string>();
  const recorded = groups().flatMap((g) => g.rules.map((r) => r.record).filter(Boolean));
  for (const n of dashboardNames) {
    const d = JSON.parse(readFileSync(join(dir, "dashboards", `${n}.json`), "utf8"));
    expect(d.uid).toBe(`oasis-${n}`);
    for (const p of d.panels) {
      for (const t of p.targets) {
        for (const m of String(t.expr).matchAll(/(?<![\w:])([a-z_][a-z0-9_]*)\{/g)) inDashboards.add(m[1]!);
        // Recorded series must be recorded by rules.yaml.
        for (const m of String(t.expr).matchAll(/\boasis:[a-z0-9_:]+/g)) expect(recorded).toContain(m[0]);
      }
    }
  }
  // process_cpu_seconds_total comes from prom-client's default metrics.
  expect([...inDashboards].filter((m) => !known.has(m) && m !== "process_cpu_seconds_total")).toEqual([]);
  expect(inDashboards.size).toBeGreaterThan(10);
});

test.skipIf(!promtool)(`promtool check rules accepts rules.yaml${promtool ? "" : " (skipped: promtool is not installed; apt-get install prometheus)"}`, () => {
  const r = run(["check", "rules", "rules.yaml"]);
  expect(r.out).toContain("SUCCESS");
  expect(r.code).toBe(0);
});

test.skipIf(!promtool)(`promtool test rules: every alert's unit tests pass${promtool ? "" : " (skipped: promtool is not installed; apt-get install prometheus)"}`, () => {
  const r = run(["test", "rules", "rules.test.yaml"]);
  if (r.code !== 0) console.log(r.out);
  expect(r.code).toBe(0);
  expect(r.out).toContain("SUCCESS");
});
