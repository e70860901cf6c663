/**
 * The built manifests, as a cluster would get them: `kubectl kustomize` builds base and
 * every overlay (kubectl ships kustomize; it is on this kind of machine, and a machine
 * without it fails here rather than skipping), and every object is validated against the
 * Kubernetes JSON schemas (kubernetes-models, and @kubernetes-models/gateway-api for the
 * Gateway API, both pinned; their validators are ajv). Then what the schemas cannot say:
 * the canary's 90/10 split holds (the stable edge's Service and PDB do not select canary
 * pods), the HTTPRoute's Gateway exists, autoscalers and disruption budgets agree with the
 * replicas of each overlay, every Oasis pod is hardened, and the image and `engines` fit
 * the dependencies.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as gateway from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import * as apps from "kubernetes-models/apps/v1";
import * as autoscaling from "kubernetes-models/autoscaling/v2";
import * as networking from "kubernetes-models/networking.k8s.io/v1";
import * as policy from "kubernetes-models/policy/v1";
import * as core from "kubernetes-models/v1";
import semver from "semver";
import { parseAllDocuments } from "yaml";
import { edgePort, mesh } from "../mesh.config.ts";

const root = join(import.meta.dir, "..");
const k8s = join(import.meta.dir, "k8s");
const overlays = readdirSync(join(k8s, "overlays")).sort();

type Doc = Record<string, any>;

/** The model classes per apiVersion; an object of any other group or kind fails validation. */
const models: Record<string, Record<string, unknown>> = {
  v1: core,
  "apps/v1": apps,
  "autoscaling/v2": autoscaling,
  "policy/v1": policy,
  "networking.k8s.io/v1": networking,
  "gateway.networking.k8s.io/v1": gateway,
};

/** Schema errors of `doc` ([] when valid). */
function schemaErrors(doc: Doc): string[] {
  const Model = models[doc.apiVersion]?.[doc.kind] as (new (d: Doc) => { validate(): void }) | undefined;
  if (!Model) return [`no schema for ${doc.apiVersion} ${doc.kind}`];
  try {
    new Model(doc).validate();
    return [];
  } catch (err) {
    return [String((err as Error).message)];
  }
}

function kubectl(): string {
  for (const dir of (process.env.PATH ?? "").split(":")) if (dir && existsSync(join(dir, "kubectl"))) return join(dir, "kubectl");
  throw new Error("kubectl is not on PATH: it builds the overlays (kubectl kustomize); this machine kind has it at /usr/bin/kubectl");
}

const built = new Map<string, Doc[]>();
/** `kubectl kustomize deploy/k8s/<dir>`, parsed. */
function build(dir: string): Doc[] {
  let docs = built.get(dir);
  if (!docs) {
    const r = Bun.spawnSync([kubectl(), "kustomize", join(k8s, dir)], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`kubectl kustomize ${dir}: ${r.stderr.toString()}`);
    docs = parseAllDocuments(r.stdout.toString()).map((d) => d.toJS() as Doc);
    built.set(dir, docs);
  }
  return docs;
}

const find = (docs: Doc[], kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
const workloads = (docs: Doc[]) => docs.filter((d) => d.kind === "Deployment" || d.kind === "StatefulSet");

describe("every overlay builds and validates against the Kubernetes schemas", () => {
  test("the overlays are dev, prod and canary", () => {
    expect(overlays).toEqual(["canary", "dev", "prod"]);
  });
  for (const dir of ["base", ...overlays.map((o) => `overlays/${o}`)]) {
    test(dir, () => {
      const docs = build(dir);
      expect(docs.length).toBeGreaterThan(50);
      for (const d of docs) expect({ object: `${d.kind}/${d.metadata?.name}`, errors: schemaErrors(d) }).toEqual({ object: `${d.kind}/${d.metadata?.name}`, errors: [] });
      // Every object lands in the oasis namespace (base's kustomization sets it).
      for (const d of docs) expect({ object: `${d.kind}/${d.metadata.name}`, ns: d.metadata.namespace }).toEqual({ object: `${d.kind}/${d.metadata.name}`, ns: "oasis" });
    });
  }
  test("the validators reject what is wrong", () => {
    const deployment = structuredClone(find(build("base"), "Deployment", "feed")!);
    deployment.spec.replicas = "two";
    expect(schemaErrors(deployment).join()).toContain("replicas");
    const route = structuredClone(find(build("overlays/canary"), "HTTPRoute", "oasis")!);
    route.spec.rules[0].backendRefs[0].weight = -1;
    expect(schemaErrors(route)).not.toEqual([]);
    expect(schemaErrors({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } })).toEqual(["no schema for example.com/v1 Widget"]);
  });
});

describe("canary", () => {
  test("90/10: the stable edge's Service, PDB and HPA count only stable pods, the canary's Service only canary pods", () => {
    const docs = build("overlays/canary");
    const stable = find(docs, "Deployment", "edge")!;
    const canary = find(docs, "Deployment", "edge-canary")!;
    const stablePods = stable.spec.template.metadata.labels;
    const canaryPods = canary.spec.template.metadata.labels;
    for (const [kind, selector] of [
      ["Service", find(docs, "Service", "edge")!.spec.selector],
      ["PodDisruptionBudget", find(docs, "PodDisruptionBudget", "edge")!.spec.selector.matchLabels],
      ["Deployment", stable.spec.selector.matchLabels],
    ] as const) {
      expect({ kind, stable: selects(selector, stablePods), canary: selects(selector, canaryPods) }).toEqual({ kind, stable: true, canary: false });
    }
    const canaryService = find(docs, "Service", "edge-canary")!;
    expect([selects(canaryService.spec.selector, canaryPods), selects(canaryService.spec.selector, stablePods)]).toEqual([true, false]);
    expect(find(docs, "HorizontalPodAutoscaler", "edge")!.spec.scaleTargetRef.name).toBe("edge");
    // Both tracks are still the edge for the NetworkPolicies (services accept component=edge).
    const edgePolicy = find(docs, "NetworkPolicy", "edge")!.spec.podSelector.matchLabels;
    expect([selects(edgePolicy, stablePods), selects(edgePolicy, canaryPods)]).toEqual([true, true]);
  });

  test("the HTTPRoute weighs 90/10 over the two Services, through a Gateway that exists; the Gateway is the only way in", () => {
    const docs = build("overlays/canary");
    const route = find(docs, "HTTPRoute", "oasis")!;
    const refs = route.spec.rules[0].backendRefs as Array<{ name: string; port: number; weight: number }>;
    expect(refs.map((r) => [r.name, r.weight])).toEqual([
      ["edge", 90],
      ["edge-canary", 10],
    ]);
    for (const r of refs) expect(find(docs, "Service", r.name)!.spec.ports.map((p: Doc) => p.port)).toContain(r.port);
    for (const parent of route.spec.parentRefs) expect(find(docs, "Gateway", parent.name)).toBeDefined();
    expect(find(docs, "Service", "edge")!.spec.type).toBe("ClusterIP");
    for (const name of ["edge", "edge-canary"]) {
      const env = find(docs, "Deployment", name)!.spec.template.spec.containers[0].env;
      expect(env).toContainEqual({ name: "OASIS_EDGE_TRUSTED_PROXIES", value: "1" });
    }
    // Outside the canary overlay the edge keeps its load balancer and trusts no proxy.
    const base = build("base");
    expect(find(base, "Service", "edge")!.spec.type).toBe("LoadBalancer");
    expect(find(base, "Gateway", "public")).toBeUndefined();
  });
});

describe("replicas, autoscalers and disruption budgets agree in every overlay", () => {
  for (const overlay of overlays) {
    test(overlay, () => {
      const docs = build(`overlays/${overlay}`);
      for (const hpa of docs.filter((d) => d.kind === "HorizontalPodAutoscaler")) {
        const target = find(docs, hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name)!;
        const replicas = target.spec.replicas ?? 1;
        // The HPA's range holds the replicas the overlay asks for.
        expect({ hpa: hpa.metadata.name, min: hpa.spec.minReplicas <= replicas, max: replicas <= hpa.spec.maxReplicas }).toEqual({ hpa: hpa.metadata.name, min: true, max: true });
        if (overlay === "prod") expect({ hpa: hpa.metadata.name, min: hpa.spec.minReplicas }).toEqual({ hpa: hpa.metadata.name, min: replicas });
      }
      for (const pdb of docs.filter((d) => d.kind === "PodDisruptionBudget")) {
        const pods = workloads(docs).filter((w) => selects(pdb.spec.selector.matchLabels, w.spec.template.metadata.labels));
        const replicas = pods.reduce((n, w) => n + (w.spec.replicas ?? 1), 0);
        expect({ pdb: pdb.metadata.name, selects: pods.length > 0 }).toEqual({ pdb: pdb.metadata.name, selects: true });
        // A drain can evict at least one pod.
        const allowed = pdb.spec.maxUnavailable !== undefined ? pdb.spec.maxUnavailable : replicas - pdb.spec.minAvailable;
        expect({ pdb: pdb.metadata.name, replicas, evictable: allowed >= 1 }).toEqual({ pdb: pdb.metadata.name, replicas, evictable: true });
      }
      if (overlay === "dev") for (const w of workloads(docs).filter((w) => w.metadata.labels?.app === "oasis")) expect({ w: w.metadata.name, replicas: w.spec.replicas }).toEqual({ w: w.metadata.name, replicas: 1 });
    });
  }
});

describe("hardening", () => {
  test("every Oasis process: its own ServiceAccount without a token, non-root, read-only root, no capabilities, startupProbe, spread", () => {
    for (const overlay of overlays) {
      const docs = build(`overlays/${overlay}`);
      const oasis = workloads(docs).filter((w) => w.spec.template.metadata.labels.app === "oasis" && w.metadata.name !== "meilisearch");
      expect(oasis.length).toBeGreaterThanOrEqual(mesh.length + 1);
      for (const w of oasis) {
        const component = w.spec.template.metadata.labels.component;
        const pod = w.spec.template.spec;
        const what = `${overlay}/${w.metadata.name}`;
        expect({ what, sa: pod.serviceAccountName }).toEqual({ what, sa: `oasis-${component}` });
        expect({ what, sa: find(docs, "ServiceAccount", pod.serviceAccountName)?.automountServiceAccountToken }).toEqual({ what, sa: false });
        expect({ what, token: pod.automountServiceAccountToken }).toEqual({ what, token: false });
        expect({ what, pod: pod.securityContext }).toEqual({ what, pod: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } } });
        expect(pod.topologySpreadConstraints.map((t: Doc) => [t.topologyKey, selects(t.labelSelector.matchLabels, w.spec.template.metadata.labels)])).toEqual([
          ["topology.kubernetes.io/zone", true],
          ["kubernetes.io/hostname", true],
        ]);
        for (const c of pod.containers) {
          expect({ what, sc: c.securityContext }).toEqual({ what, sc: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } } });
          expect({ what, startup: c.startupProbe !== undefined, tmp: c.volumeMounts.some((m: Doc) => m.mountPath === "/tmp") }).toEqual({ what, startup: true, tmp: true });
          const port = c.ports[0].containerPort;
          expect(component === "edge" ? c.startupProbe.httpGet : c.startupProbe.grpc).toMatchObject({ port: component === "edge" ? edgePort : port });
        }
      }
      // The stores and Meilisearch: non-root, no capabilities, no escalation.
      for (const w of workloads(docs).filter((w) => !oasis.includes(w))) {
        const what = `${overlay}/${w.metadata.name}`;
        expect({ what, nonRoot: w.spec.template.spec.securityContext.runAsNonRoot }).toEqual({ what, nonRoot: true });
        for (const c of w.spec.template.spec.containers) expect({ what, caps: c.securityContext.capabilities, esc: c.securityContext.allowPrivilegeEscalation }).toEqual({ what, caps: { drop: ["ALL"] }, esc: false });
      }
    }
  });
});

describe("image and engines", () => {
  test("the runtime image gets production dependencies only, runs as the non-root uid the pods expect", () => {
    const text = readFileSync(join(import.meta.dir, "Dockerfile"), "utf8");
    const stages = text.split(/^FROM /m).slice(1);
    expect(stages.length).toBe(2);
    const [buildStage, runtime] = stages as [string, string];
    expect(buildStage).toMatch(/^node:(\d+)-/);
    expect(semver.satisfies(`${/^node:(\d+)-/.exec(buildStage)![1]!}.99.0`, pkg().engines.node)).toBe(true);
    expect(buildStage).toContain("npm prune --omit=dev");
    expect(runtime).toMatch(new RegExp(`^oven/bun:${pkg().devDependencies.bun!.replace(/\./g, "\\.")}-slim`));
    expect(runtime).toContain("COPY --from=build /app/node_modules ./node_modules");
    expect(runtime).not.toMatch(/npm (ci|install)/);
    expect(runtime).toMatch(/^USER bun$/m);
  });

  test("engines.node is within every installed dependency's engines.node", () => {
    const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as { packages: Record<string, { engines?: { node?: string } | string[] }> };
    const ours = pkg().engines.node;
    const checked: string[] = [];
    for (const [path, p] of Object.entries(lock.packages)) {
      const range = !Array.isArray(p.engines) ? p.engines?.node : undefined;
      // Installed here (optional packages for other platforms are not).
      if (!path || !range || !semver.validRange(range) || !existsSync(join(root, path))) continue;
      checked.push(path);
      expect({ path, range, fits: semver.subset(ours, range) }).toEqual({ path, range, fits: true });
    }
    expect(checked.length).toBeGreaterThan(20);
    // Why 22.15 and not 22: @opentelemetry/context-async-hooks (kit/tracing.ts) accepts
    // 22 only from 22.15.0 (meilisearch and @redocly/cli from 22.12.0).
    const otel = lock.packages["node_modules/@opentelemetry/context-async-hooks"]!.engines as { node: string };
    expect(otel.node).toBe(">=22.15.0");
    expect(semver.subset(">=22.12.0", otel.node)).toBe(false);
  });
});

function pkg(): { engines: { node: string }; devDependencies: Record<string, string> } {
  return JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
}
