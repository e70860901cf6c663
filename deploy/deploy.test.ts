/**
 * The Kubernetes manifests are what deploy/generate.ts makes from mesh.config.ts, and
 * they are consistent: every service has a workload and a Service on its mesh port,
 * probes on that port, the edge points at every service, and media keeps its volumes;
 * services are headless and named as `dns:///` targets so callers see every pod; no
 * secret value is committed; NetworkPolicies deny by default and let each process reach
 * only what it needs; metrics are scraped from the admin port.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, cpSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEdgeConfig } from "../edge/config.ts";
import { sharedConfig } from "../kit/config.ts";
import { parseDnsTarget } from "../kit/discovery.ts";
import { edgePort, mesh } from "../mesh.config.ts";
import { k8sName, metricsPortOf, stores, upstreamsOf } from "./generate.ts";

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
  for (const e of mesh) expect(edge.env).toContainEqual({ name: `OASIS_${e.name.toUpperCase()}_URL`, value: `dns:///${k8sName(e.name)}:${e.port}` });
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
    expect(cfg.upstreams[e.name]!.map(parseDnsTarget)).toEqual([{ host: k8sName(e.name), port: e.port }]);
  }
  // The edge's JWKS URL, derived from identity's target, is a plain HTTP URL.
  // The edge's key and the public keys come from its Secret and ConfigMap (here: this run's).
  const keys = { OASIS_MESH_KEY_EDGE: process.env.OASIS_MESH_KEY_EDGE, OASIS_MESH_PUBLIC_KEYS: process.env.OASIS_MESH_PUBLIC_KEYS };
  expect(loadEdgeConfig({ ...config, ...keys, ...Object.fromEntries(edgeEnv.map((v) => [v.name, v.value])) }).jwksUrl).toBe(
    `http://identity:${mesh.find((e) => e.name === "identity")!.port}/.well-known/jwks.json`,
  );
  // The public edge keeps its load balancer.
  expect(docs("edge.yaml").find((d) => d.kind === "Service").spec.type).toBe("LoadBalancer");
});

/** Every file under deploy/k8s, recursively. */
function manifestFiles(dir = join(import.meta.dir, "k8s")): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? manifestFiles(join(dir, f)) : [join(dir, f)]));
}

test("no secret value is committed: no Secret objects, no secret files, no passwords or keys, stores configured from each process's Secret", () => {
  const files = manifestFiles();
  expect(files.length).toBeGreaterThan(10);
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    expect({ f, secretFile: /secret/i.test(f.split("/").at(-1)!) }).toEqual({ f, secretFile: false });
    for (const [what, re] of [
      ["change-me style default", /change-?me/i],
      ["a Secret object or generator", /"kind": "Secret"|secretGenerator/],
      ["the old shared secret", /OASIS_MESH_SECRET/],
      ["a mesh key", /OASIS_MESH_KEY_|OASIS_MESH_PUBLIC_KEYS/],
      ["credentials in a URL", /[a-z]+:\/\/[^/"\s:@]*:[^/"\s@]+@/i],
    ] as const) {
      expect({ f, what, found: re.test(text) }).toEqual({ f, what, found: false });
    }
  }
  // Every env variable that carries a password or user takes it from a Secret, never a literal.
  const envs = files.filter((f) => f.endsWith(".yaml")).flatMap((f) =>
    readFileSync(f, "utf8")
      .split("\n---\n")
      .map((d) => JSON.parse(d) as any)
      .flatMap((d) => (d.spec?.template?.spec?.containers ?? []).flatMap((c: any) => (c.env ?? []) as Array<{ name: string; value?: string; valueFrom?: any }>)),
  );
  const credentials = envs.filter((e) => /PASSWORD|_USER$/.test(e.name));
  expect(credentials.map((e) => e.name).sort()).toEqual(["MARIADB_ROOT_PASSWORD", "NATS_PASSWORD", "NATS_USER", "REDIS_PASSWORD"]);
  for (const e of credentials) expect({ name: e.name, value: e.value, secret: e.valueFrom?.secretKeyRef?.name }).toEqual({ name: e.name, value: undefined, secret: "oasis-stores" });
  // Redis requires its password and NATS its user (from the Secret, by variable).
  const stores = docs("stores.yaml");
  expect(stores.find((d) => d.metadata.name === "redis" && d.kind === "StatefulSet").spec.template.spec.containers[0].command).toContain("$(REDIS_PASSWORD)");
  expect(stores.find((d) => d.metadata.name === "nats" && d.kind === "StatefulSet").spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(["--user", "$(NATS_USER)", "--pass", "$(NATS_PASSWORD)"]));
  // Store URLs (with their passwords) and keys come from each process's own Secret, not the shared ConfigMap.
  const config = docs("config.yaml").find((d) => d.kind === "ConfigMap").data as Record<string, string>;
  for (const v of ["OASIS_MYSQL_URL", "OASIS_REDIS_URL", "OASIS_NATS_URL"]) expect(config[v]).toBeUndefined();
  for (const name of [...mesh.map((e) => e.name), "edge"]) {
    const w = docs(`${name}.yaml`).find((d) => d.kind === "Deployment" || d.kind === "StatefulSet");
    expect(w.spec.template.spec.containers[0].envFrom).toEqual([
      { configMapRef: { name: "oasis-config" } },
      { configMapRef: { name: "oasis-mesh-public-keys" } },
      { secretRef: { name: `oasis-${k8sName(name)}` } },
    ]);
  }
});

test("NetworkPolicies: default deny; the edge's port open, a service's port only to the edge and its callers, admin ports only to monitoring", () => {
  const policies = docs("network-policies.yaml");
  expect(readFileSync(join(base, "kustomization.yaml"), "utf8")).toContain('"network-policies.yaml"');
  const byName = new Map(policies.map((p) => [p.metadata.name, p.spec]));
  expect(byName.get("default-deny")).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
  // Every pod the manifests run is selected by a policy of its own besides the default deny.
  const pods = readdirSync(base).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml").flatMap((f) =>
    docs(f).filter((d) => d.kind === "Deployment" || d.kind === "StatefulSet").map((d) => d.spec.template.metadata.labels),
  );
  for (const labels of pods) {
    const selected = policies.filter((p) => p.metadata.name !== "default-deny" && Object.entries(p.spec.podSelector.matchLabels).every(([k, v]) => labels[k] === v));
    expect({ labels, policies: selected.length }).toEqual({ labels, policies: 1 });
  }
  for (const st of stores) {
    expect(byName.get(st.name).ingress).toEqual([{ from: [{ podSelector: { matchLabels: { app: "oasis" } } }], ports: [{ protocol: "TCP", port: st.port }] }]);
  }
  const comp = (n: string) => ({ podSelector: { matchLabels: { app: "oasis", component: k8sName(n) } } });
  const monitoring = (port: number) => ({ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }], ports: [{ protocol: "TCP", port: metricsPortOf(port) }] });
  for (const e of mesh) {
    const p = byName.get(k8sName(e.name));
    expect({ service: e.name, policy: p !== undefined }).toEqual({ service: e.name, policy: true });
    expect(p.podSelector).toEqual(comp(e.name).podSelector);
    expect(p.policyTypes).toEqual(["Ingress", "Egress"]);
    const callers = mesh.filter((c) => upstreamsOf[c.name]!.includes(e.name)).map((c) => comp(c.name));
    expect(p.ingress).toEqual([{ from: [comp("edge"), ...callers], ports: [{ protocol: "TCP", port: e.port }] }, monitoring(e.port)]);
    // Egress: DNS, the services it calls (on their ports), the stores.
    const to = p.egress.map((r: any) => r.to[0].podSelector?.matchLabels);
    expect(to.slice(1)).toEqual([
      ...upstreamsOf[e.name]!.map((u) => ({ app: "oasis", component: k8sName(u) })),
      ...stores.map((s) => ({ app: s.name })),
      // search also reaches Meilisearch (its production engine), and nothing else does.
      ...(e.name === "search" ? [{ app: "oasis", component: "meilisearch" }] : []),
    ]);
  }
  expect(byName.get("meilisearch").ingress).toEqual([{ from: [comp("search")], ports: [{ protocol: "TCP", port: 7700 }] }]);
  const edge = byName.get("edge");
  expect(edge.ingress).toEqual([{ ports: [{ protocol: "TCP", port: edgePort }] }, monitoring(edgePort)]);
  expect(edge.egress.map((r: any) => r.to[0].podSelector?.matchLabels).slice(1)).toEqual([...mesh.map((e) => ({ app: "oasis", component: k8sName(e.name) })), { app: "redis" }, { app: "nats" }]);
});

test("upstreamsOf (what the NetworkPolicies open) lists exactly the services each service's code calls", () => {
  const callsIn = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const path = join(dir, f);
      if (statSync(path).isDirectory()) return callsIn(path);
      if (!f.endsWith(".ts") || f.endsWith(".test.ts")) return [];
      return [...readFileSync(path, "utf8").matchAll(/\bclient\(\w+, "([a-z]+)"\)/g)].map((m) => m[1]!);
    });
  for (const e of mesh) {
    const called = [...new Set(callsIn(join(import.meta.dir, "..", "services", e.name)))].sort();
    expect({ service: e.name, calls: called }).toEqual({ service: e.name, calls: [...upstreamsOf[e.name]!].sort() });
  }
});

test("Prometheus scrapes /metrics on each process's admin port; probes stay on the service port", () => {
  for (const [name, port] of [...mesh.map((e) => [e.name, e.port] as const), ["edge", edgePort] as const]) {
    const w = docs(`${name}.yaml`).find((d) => d.kind === "Deployment" || d.kind === "StatefulSet");
    const c = w.spec.template.spec.containers[0];
    expect(w.spec.template.metadata.annotations).toEqual({ "prometheus.io/scrape": "true", "prometheus.io/port": String(metricsPortOf(port)), "prometheus.io/path": "/metrics" });
    expect(c.ports).toEqual([{ name: "rpc", containerPort: port }, { name: "metrics", containerPort: metricsPortOf(port) }]);
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port });
  }
});

test("behind the L4 load balancer the edge trusts no X-Forwarded-For and sees client addresses", () => {
  const edgeEnv = docs("edge.yaml").find((d) => d.kind === "Deployment").spec.template.spec.containers[0].env as Array<{ name: string }>;
  expect(edgeEnv.map((v) => v.name)).not.toContain("OASIS_EDGE_TRUSTED_PROXIES");
  expect(loadEdgeConfig({ OASIS_DEV: "1" }).trustedProxies).toBe(0);
  expect(docs("edge.yaml").find((d) => d.kind === "Service").spec.externalTrafficPolicy).toBe("Local");
});
