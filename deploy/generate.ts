/**
 * Writes the Kubernetes manifests in deploy/k8s from mesh.config.ts, so ports and names
 * never drift from what the mesh runs locally. Run: bun deploy/generate.ts
 *
 * base/: per service a Deployment (media: a StatefulSet with a volume, since one process
 * owns its Haystack volumes) and a headless Service (callers resolve its pods by DNS,
 * `dns:///<name>:<port>`); the edge with a LoadBalancer Service; shared config, HPAs and PodDisruptionBudgets. Liveness uses the gRPC health
 * protocol (kubelet's grpc probe), readiness /readyz over HTTP/1.1 (same port).
 * overlays/dev: one replica each. overlays/prod: more replicas and resources.
 * overlays/canary: a canary edge and feed, with a Gateway API HTTPRoute weighting 90/10
 * (grayscale releases by weighted routing).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { edgePort, mesh } from "../mesh.config.ts";

const out = join(import.meta.dir, "k8s");
const image = "registry.example.com/oasis:1.0.0";

type Obj = Record<string, unknown>;

/**
 * How callers name a service: `dns:///` over its headless Service, so the edge and mesh
 * clients resolve every pod into a replica and re-resolve as pods come and go
 * (kit/discovery.ts). A ClusterIP would show them one virtual IP: one replica, one
 * HTTP/2 connection to one pod, no per-pod balancing or ejection.
 */
function upstreamUrl(name: string, port: number): string {
  return `dns:///${name}:${port}`;
}
const yaml = (docs: Obj[]) => docs.map((d) => JSON.stringify(d, null, 2)).join("\n---\n") + "\n";

function container(name: string, entry: string, port: number, extra: Obj = {}): Obj {
  return {
    name,
    image,
    command: ["bun", entry],
    ports: [{ name: "rpc", containerPort: port }],
    envFrom: [{ configMapRef: { name: "oasis-config" } }, { secretRef: { name: "oasis-secrets" } }],
    env: [{ name: `OASIS_${name.toUpperCase()}_PORT`, value: String(port) }],
    readinessProbe: { httpGet: { path: "/readyz", port }, periodSeconds: 5, failureThreshold: 2 },
    livenessProbe: name === "edge" ? { httpGet: { path: "/healthz", port }, periodSeconds: 10 } : { grpc: { port }, periodSeconds: 10 },
    resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "1Gi" } },
    // Kubernetes sends SIGTERM and waits terminationGracePeriodSeconds: services drain
    // in-flight calls (kit/server.ts) well within it.
    ...extra,
  };
}

function workload(name: string, port: number): Obj[] {
  const labels = { app: "oasis", component: name };
  const spec = {
    selector: { matchLabels: labels },
    template: {
      metadata: { labels, annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(port), "prometheus.io/path": "/metrics" } },
      spec: { terminationGracePeriodSeconds: 30, containers: [container(name, `services/${name}/main.ts`, port)] },
    },
  };
  // Headless: the name resolves to every ready pod, which callers balance over themselves.
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, labels },
    spec: { clusterIP: "None", selector: labels, ports: [{ name: "rpc", port, targetPort: port, appProtocol: "kubernetes.io/h2c" }] },
  };
  const pdb = { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name }, spec: { minAvailable: 1, selector: { matchLabels: labels } } };
  if (name === "media") {
    const sts = {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name, labels },
      spec: {
        ...spec,
        serviceName: name,
        replicas: 1,
        template: {
          ...spec.template,
          spec: {
            ...spec.template.spec,
            containers: [container(name, `services/${name}/main.ts`, port, { volumeMounts: [{ name: "volumes", mountPath: "/data/media" }], env: [{ name: "OASIS_MEDIA_PORT", value: String(port) }, { name: "OASIS_MEDIA_DATA_DIR", value: "/data/media" }] })],
          },
        },
        volumeClaimTemplates: [{ metadata: { name: "volumes" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "200Gi" } } } }],
      },
    };
    return [sts, service];
  }
  const deployment = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name, labels }, spec: { replicas: 2, ...spec } };
  const hpa = {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name },
    spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name }, minReplicas: 2, maxReplicas: 20, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 65 } } }] },
  };
  return [deployment, service, hpa, pdb];
}

function edge(): Obj[] {
  const labels = { app: "oasis", component: "edge" };
  const upstreams = mesh.map((e) => ({ name: `OASIS_${e.name.toUpperCase()}_URL`, value: upstreamUrl(e.name, e.port) }));
  return [
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "edge", labels },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { terminationGracePeriodSeconds: 30, containers: [container("edge", "edge/main.ts", edgePort, { env: [{ name: "OASIS_EDGE_PORT", value: String(edgePort) }, { name: "OASIS_EDGE_TRUSTED_PROXIES", value: "1" }, ...upstreams] })] } },
      },
    },
    { apiVersion: "v1", kind: "Service", metadata: { name: "edge", labels }, spec: { type: "LoadBalancer", selector: labels, ports: [{ name: "http", port: 80, targetPort: edgePort }] } },
    {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "edge" },
      spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "edge" }, minReplicas: 2, maxReplicas: 30, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 60 } } }] },
    },
    { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "edge" }, spec: { minAvailable: 1, selector: { matchLabels: labels } } },
  ];
}

const config = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "oasis-config" },
  data: {
    OASIS_MYSQL_URL: "mysql://oasis@mariadb:3306",
    OASIS_REDIS_URL: "redis://redis:6379",
    OASIS_NATS_URL: "nats://nats:4222",
    OASIS_LOG_LEVEL: "info",
    OASIS_MESH_SERVICES: mesh.map((e) => e.name).join(","),
    ...Object.fromEntries(mesh.map((e) => [`OASIS_${e.name.toUpperCase()}_URL`, upstreamUrl(e.name, e.port)])),
  },
};

function write(path: string, text: string): void {
  mkdirSync(join(out, path, ".."), { recursive: true });
  writeFileSync(join(out, path), text);
}

const baseFiles = ["config.yaml", "edge.yaml", ...mesh.map((e) => `${e.name}.yaml`)];
write("base/config.yaml", yaml([config]));
write("base/edge.yaml", yaml(edge()));
for (const e of mesh) write(`base/${e.name}.yaml`, yaml(workload(e.name, e.port)));
write(
  "base/kustomization.yaml",
  yaml([{ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", namespace: "oasis", resources: baseFiles, secretGenerator: [{ name: "oasis-secrets", envs: ["secrets.env"] }] }]),
);
write("base/secrets.env", "# Replace before deploying; never commit real secrets.\nOASIS_MESH_SECRET=change-me\n# Signed chat-image URLs (e.g. openssl rand -base64 32); empty: private media is never served.\nOASIS_MEDIA_URL_KEY=\n");
write(
  "overlays/dev/kustomization.yaml",
  yaml([{ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: ["../../base"], replicas: [...mesh.filter((e) => e.name !== "media").map((e) => ({ name: e.name, count: 1 })), { name: "edge", count: 1 }] }]),
);
write(
  "overlays/prod/kustomization.yaml",
  yaml([
    {
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: ["../../base"],
      replicas: [{ name: "edge", count: 6 }, { name: "feed", count: 6 }, { name: "post", count: 4 }, { name: "graph", count: 4 }, { name: "interaction", count: 4 }, { name: "identity", count: 3 }, { name: "notification", count: 3 }, { name: "chat", count: 3 }],
    },
  ]),
);
write(
  "overlays/canary/kustomization.yaml",
  yaml([{ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: ["../../base", "canary.yaml"] }]),
);
write(
  "overlays/canary/canary.yaml",
  yaml([
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "edge-canary", labels: { app: "oasis", component: "edge", track: "canary" } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "oasis", component: "edge", track: "canary" } },
        template: { metadata: { labels: { app: "oasis", component: "edge", track: "canary" } }, spec: { containers: [container("edge", "edge/main.ts", edgePort, { image: "registry.example.com/oasis:1.1.0-rc1" })] } },
      },
    },
    { apiVersion: "v1", kind: "Service", metadata: { name: "edge-canary" }, spec: { selector: { app: "oasis", component: "edge", track: "canary" }, ports: [{ name: "http", port: 80, targetPort: edgePort }] } },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "oasis" },
      spec: { parentRefs: [{ name: "public" }], rules: [{ backendRefs: [{ name: "edge", port: 80, weight: 90 }, { name: "edge-canary", port: 80, weight: 10 }] }] },
    },
  ]),
);
console.log(`wrote deploy/k8s (${baseFiles.length} base files, 3 overlays)`);
