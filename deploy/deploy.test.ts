/**
 * The Kubernetes manifests are what deploy/generate.ts makes from mesh.config.ts, and
 * they are consistent: every service has a workload and a Service on its mesh port,
 * probes on that port, the edge points at every service, and media keeps its volumes;
 * services are headless and named as `dns:///` targets so callers see every pod.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEdgeConfig } from "../edge/config.ts";
import { sharedConfig } from "../kit/config.ts";
import { parseDnsTarget } from "../kit/discovery.ts";
import { edgePort, mesh } from "../mesh.config.ts";

const base = join(import.meta.dir, "k8s", "base");
const docs = (file: string) => readFileSync(join(base, file), "utf8").split("\n---\n").map((d) => JSON.parse(d) as any);

test("generated manifests are up to date", () => {
  const tmp = mkdtempSync(join(tmpdir(), "oasis-deploy-"));
  try {
    cpSync(import.meta.dir, join(tmp, "deploy"), { recursive: true });
    cpSync(join(import.meta.dir, "..", "mesh.config.ts"), join(tmp, "mesh.config.ts"));
    const r = Bun.spawnSync([process.execPath, join(tmp, "deploy", "generate.ts")]);
    expect(r.exitCode).toBe(0);
    for (const dir of ["k8s/base", "k8s/overlays/dev", "k8s/overlays/prod", "k8s/overlays/canary"]) {
      for (const f of readdirSync(join(import.meta.dir, dir))) {
        expect(readFileSync(join(tmp, "deploy", dir, f), "utf8")).toBe(readFileSync(join(import.meta.dir, dir, f), "utf8"));
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("every service has a workload and a Service on its port, with probes there", () => {
  for (const e of mesh) {
    const all = docs(`${e.name}.yaml`);
    const workload = all.find((d) => d.kind === (e.name === "media" ? "StatefulSet" : "Deployment"));
    const service = all.find((d) => d.kind === "Service");
    const c = workload.spec.template.spec.containers[0];
    expect(c.command).toEqual(["bun", `services/${e.name}/main.ts`]);
    expect(c.ports[0].containerPort).toBe(e.port);
    expect(service.spec.ports[0].port).toBe(e.port);
    expect(c.readinessProbe.httpGet.port).toBe(e.port);
    expect(c.livenessProbe.grpc.port).toBe(e.port);
  }
  const media = docs("media.yaml").find((d) => d.kind === "StatefulSet");
  expect(media.spec.volumeClaimTemplates[0].metadata.name).toBe("volumes");
  const edge = docs("edge.yaml").find((d) => d.kind === "Deployment").spec.template.spec.containers[0];
  expect(edge.ports[0].containerPort).toBe(edgePort);
  for (const e of mesh) expect(edge.env).toContainEqual({ name: `OASIS_${e.name.toUpperCase()}_URL`, value: `dns:///${e.name}:${e.port}` });
});

test("services are headless and callers resolve their pods by DNS, so balancing sees every replica", () => {
  for (const e of mesh) {
    const service = docs(`${e.name}.yaml`).find((d) => d.kind === "Service");
    expect(service.spec.clusterIP).toBe("None");
  }
  // The URLs the edge and the services get name those headless Services as DNS targets.
  const edgeEnv = docs("edge.yaml").find((d) => d.kind === "Deployment").spec.template.spec.containers[0].env as Array<{ name: string; value: string }>;
  const config = docs("config.yaml").find((d) => d.kind === "ConfigMap").data as Record<string, string>;
  const cfg = sharedConfig({ ...config, ...Object.fromEntries(edgeEnv.map((v) => [v.name, v.value])) });
  for (const e of mesh) {
    expect(cfg.upstreams[e.name]!.map(parseDnsTarget)).toEqual([{ host: e.name, port: e.port }]);
  }
  // The edge's JWKS URL, derived from identity's target, is a plain HTTP URL.
  expect(loadEdgeConfig({ ...config, ...Object.fromEntries(edgeEnv.map((v) => [v.name, v.value])) }).jwksUrl).toBe(
    `http://identity:${mesh.find((e) => e.name === "identity")!.port}/.well-known/jwks.json`,
  );
  // The public edge keeps its load balancer.
  expect(docs("edge.yaml").find((d) => d.kind === "Service").spec.type).toBe("LoadBalancer");
});

test("behind the L4 load balancer the edge trusts no X-Forwarded-For and sees client addresses", () => {
  const edgeEnv = docs("edge.yaml").find((d) => d.kind === "Deployment").spec.template.spec.containers[0].env as Array<{ name: string }>;
  expect(edgeEnv.map((v) => v.name)).not.toContain("OASIS_EDGE_TRUSTED_PROXIES");
  expect(loadEdgeConfig({}).trustedProxies).toBe(0);
  expect(docs("edge.yaml").find((d) => d.kind === "Service").spec.externalTrafficPolicy).toBe("Local");
});
