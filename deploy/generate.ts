/**
 * Writes the Kubernetes manifests in deploy/k8s from mesh.config.ts, so ports and names
 * never drift from what the mesh runs locally. Run: bun deploy/generate.ts
 *
 * base/: per service a Deployment (media: a StatefulSet with a volume, since one process
 * owns its Haystack volumes) and a headless Service (callers resolve its pods by DNS,
 * `dns:///<name>:<port>`); the edge with a LoadBalancer Service; shared config, HPAs and PodDisruptionBudgets. Liveness uses the gRPC health
 * protocol (kubelet's grpc probe), readiness /readyz over HTTP/1.1 (same port).
 * overlays/dev: one replica each (HPAs from 1, PDBs allow one eviction, so node drains
 * pass). overlays/prod: more replicas, the HPAs' minimum raised to match.
 *
 * Hardening (deploy/deploy.test.ts checks it and validates every built overlay against
 * the Kubernetes JSON schemas): each Oasis process runs as its own ServiceAccount
 * (`oasis-<name>`, no API token mounted), as uid 1000 with a read-only root filesystem,
 * no privilege escalation, every capability dropped and the runtime's seccomp profile;
 * /tmp is an emptyDir. A startupProbe gives a process 60 s (migrations) before liveness
 * counts; pods spread over zones and nodes. The stores run as uid 999 without
 * capabilities (their images' entrypoints skip the root-only steps then).
 *
 * Trust (docs/design-notes.md note 17, deploy/README.md): no secret value is in these
 * files. Each process reads its own Secret `oasis-<name>` (its mesh key and its store
 * URLs with passwords), created by the deployer, and the mesh's public keys from the
 * ConfigMap `oasis-mesh-public-keys` (both made by `bun scripts/mesh-keys.ts`).
 * NetworkPolicies deny everything by default; the edge is reachable from anywhere on its
 * port, a service's port only from the edge and the services that call it
 * (`callers` below), its admin port (/metrics) only from the monitoring namespace; each
 * process may reach DNS, the stores, and the services it calls.
 * overlays/canary: a canary edge (pods labelled `track: canary`; the stable edge's
 * Deployment, Service and PDB select `track: stable`, so neither counts the other's
 * pods) behind the Gateway `public` and an HTTPRoute weighting 90/10 (grayscale
 * releases by weighted routing). The Gateway is the only way in there: the edge Service
 * becomes a ClusterIP and both edges trust the one proxy hop (X-Forwarded-For).
 *
 * Adding a service: its entry in mesh.config.ts and its line in `upstreamsOf`;
 * `prodReplicas` if prod needs more than two.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { edgePort, mesh } from "../mesh.config.ts";

const out = join(import.meta.dir, "k8s");
const image = "registry.example.com/oasis:1.0.0";

type Obj = Record<string, unknown>;

/** The uid and gid of the image's user (`bun` in the oven/bun image, deploy/Dockerfile). */
const appUid = 1000;
/** The stores' images' own users (mysql, redis: uid 999). */
const storeUid = 999;

/** Pod-level security for a process running as `uid`. */
const podSecurity = (uid: number) => ({ runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: "RuntimeDefault" } });

/** Container-level security: no escalation, no capabilities, read-only root where the image allows it. */
const containerSecurity = (readOnlyRoot: boolean) => ({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: readOnlyRoot, capabilities: { drop: ["ALL"] } });

/** Spread replicas over zones, then nodes; never blocks scheduling (one-zone clusters). */
function spread(labels: Record<string, string>): Obj[] {
  return ["topology.kubernetes.io/zone", "kubernetes.io/hostname"].map((topologyKey) => ({ maxSkew: 1, topologyKey, whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: labels } }));
}

/** The ServiceAccount of process `name`: its own identity, no API token (no process calls the Kubernetes API). */
function serviceAccount(name: string): Obj {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: `oasis-${name}`, labels: { app: "oasis", component: name } }, automountServiceAccountToken: false };
}

/** The pod spec of Oasis process `name`: its ServiceAccount, security, spread and a writable /tmp. */
function podSpec(name: string, labels: Record<string, string>, containers: Obj[]): Obj {
  return {
    serviceAccountName: `oasis-${name}`,
    automountServiceAccountToken: false,
    securityContext: podSecurity(appUid),
    topologySpreadConstraints: spread(labels),
    terminationGracePeriodSeconds: 30,
    containers,
    volumes: [{ name: "tmp", emptyDir: { sizeLimit: "1Gi" } }],
  };
}

/**
 * Replicas in prod where two are not enough; the HPA's minimum is raised to the same
 * number so the autoscaler never scales below it.
 */
const prodReplicas: Record<string, number> = { edge: 6, feed: 6, post: 4, graph: 4, interaction: 4, identity: 3, notification: 3, wallet: 2, chat: 3 };

/**
 * How callers name a service: `dns:///` over its headless Service, so the edge and mesh
 * clients resolve every pod into a replica and re-resolve as pods come and go
 * (kit/discovery.ts). A ClusterIP would show them one virtual IP: one replica, one
 * HTTP/2 connection to one pod, no per-pod balancing or ejection.
 */
function upstreamUrl(name: string, port: number): string {
  return `dns:///${k8sName(name)}:${port}`;
}

/**
 * A mesh name as Kubernetes names it: objects, labels and DNS names allow no "_"
 * (RFC 1123), so `demo_echo` runs as `demo-echo`; env names, folders and databases keep
 * the mesh name.
 */
export function k8sName(name: string): string {
  return name.replaceAll("_", "-");
}
/**
 * Which services each service calls (its `rt.client(..., "<name>")` upstreams; checked
 * against the code by deploy/deploy.test.ts). A new service adds its line.
 */
export const upstreamsOf: Record<string, readonly string[]> = {
  identity: ["graph", "media"],
  graph: ["identity"],
  media: [],
  post: ["graph", "identity", "media"],
  feed: ["graph", "identity", "interaction", "post"],
  interaction: ["graph", "identity", "post"],
  notification: ["graph", "identity", "post"],
  chat: ["graph", "identity", "media"],
  wallet: ["graph", "identity", "post"],
  search: ["graph", "identity", "interaction", "post"],
  moderation: ["chat", "graph", "identity", "interaction", "post"],
};

/** The admin (metrics) port of a process: its port + 1000 (kit/config.ts metricsPortOffset). */
export const metricsPortOf = (port: number) => port + 1000;

/** The stores the services reach (base/stores.yaml; pods labelled `app: <name>`). */
export const stores = [
  { name: "mariadb", port: 3306 },
  { name: "redis", port: 6379 },
  { name: "nats", port: 4222 },
] as const;

/** Namespace of the Prometheus that scrapes the admin ports. */
const monitoringNamespace = "monitoring";

const yaml = (docs: Obj[]) => docs.map((d) => JSON.stringify(d, null, 2)).join("\n---\n") + "\n";

function container(meshName: string, entry: string, port: number, extra: Obj = {}): Obj {
  const name = k8sName(meshName);
  return {
    name,
    image,
    command: ["bun", entry],
    ports: [
      { name: "rpc", containerPort: port },
      { name: "metrics", containerPort: metricsPortOf(port) },
    ],
    // Its own Secret only: its mesh key and store credentials, never another process's.
    envFrom: [{ configMapRef: { name: "oasis-config" } }, { configMapRef: { name: "oasis-mesh-public-keys" } }, { secretRef: { name: `oasis-${name}` } }],
    env: [{ name: `OASIS_${meshName.toUpperCase()}_PORT`, value: String(port) }],
    // Liveness and readiness start only once this passes: up to 30 x 2 s for migrations.
    startupProbe: name === "edge" ? { httpGet: { path: "/healthz", port }, periodSeconds: 2, failureThreshold: 30 } : { grpc: { port }, periodSeconds: 2, failureThreshold: 30 },
    readinessProbe: { httpGet: { path: "/readyz", port }, periodSeconds: 5, failureThreshold: 2 },
    livenessProbe: name === "edge" ? { httpGet: { path: "/healthz", port }, periodSeconds: 10 } : { grpc: { port }, periodSeconds: 10 },
    resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "1Gi" } },
    securityContext: containerSecurity(true),
    // Kubernetes sends SIGTERM and waits terminationGracePeriodSeconds: services drain
    // in-flight calls (kit/server.ts) well within it.
    ...extra,
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }, ...((extra.volumeMounts as Obj[] | undefined) ?? [])],
  };
}

/** Prometheus scrape annotations: /metrics on the admin port. */
function scrape(port: number): Record<string, string> {
  return { "prometheus.io/scrape": "true", "prometheus.io/port": String(metricsPortOf(port)), "prometheus.io/path": "/metrics" };
}

function workload(meshName: string, port: number): Obj[] {
  const name = k8sName(meshName);
  const labels = { app: "oasis", component: name };
  const spec = {
    selector: { matchLabels: labels },
    template: {
      metadata: { labels, annotations: scrape(port) },
      spec: podSpec(name, labels, [container(meshName, `services/${meshName}/main.ts`, port)]),
    },
  };
  // Headless: the name resolves to every ready pod, which callers balance over themselves.
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, labels },
    spec: { clusterIP: "None", selector: labels, ports: [{ name: "rpc", port, targetPort: port, appProtocol: "kubernetes.io/h2c" }] },
  };
  // One pod at a time may be evicted: with one replica (dev) a drain still proceeds.
  const pdb = { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name }, spec: { maxUnavailable: 1, selector: { matchLabels: labels } } };
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
          spec: podSpec(name, labels, [
            container(meshName, `services/${meshName}/main.ts`, port, { volumeMounts: [{ name: "volumes", mountPath: "/data/media" }], env: [{ name: "OASIS_MEDIA_PORT", value: String(port) }, { name: "OASIS_MEDIA_DATA_DIR", value: "/data/media" }] }),
          ]),
        },
        volumeClaimTemplates: [{ metadata: { name: "volumes" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "200Gi" } } } }],
      },
    };
    return [serviceAccount(name), sts, service, pdb];
  }
  if (name === "search") spec.template.spec = podSpec(name, labels, [container(meshName, `services/${meshName}/main.ts`, port, { env: [{ name: "OASIS_SEARCH_PORT", value: String(port) }, ...meiliEnv] })]);
  const deployment = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name, labels }, spec: { replicas: 2, ...spec } };
  const hpa = {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name },
    spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name }, minReplicas: 2, maxReplicas: 20, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 65 } } }] },
  };
  return [serviceAccount(name), deployment, service, hpa, pdb];
}

/**
 * Search runs on Meilisearch in Kubernetes (the embedded engine is for one process on
 * one disk): the official image as a single-replica StatefulSet with its own volume.
 * Its master key comes from the Secret `meilisearch-master-key` (key `key`), created
 * out of band like every real secret; search uses the same key as OASIS_MEILI_KEY.
 */
const meiliKey = { secretKeyRef: { name: "meilisearch-master-key", key: "key" } };
const meiliEnv = [
  { name: "OASIS_MEILI_URL", value: "http://meilisearch:7700" },
  { name: "OASIS_MEILI_KEY", valueFrom: meiliKey },
];

function meilisearch(): Obj[] {
  const labels = { app: "oasis", component: "meilisearch" };
  return [
    {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "meilisearch", labels },
      spec: {
        serviceName: "meilisearch",
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            securityContext: podSecurity(appUid),
            containers: [
              {
                name: "meilisearch",
                securityContext: containerSecurity(false),
                image: "getmeili/meilisearch:v1.18.0",
                ports: [{ name: "http", containerPort: 7700 }],
                env: [
                  { name: "MEILI_ENV", value: "production" },
                  { name: "MEILI_DB_PATH", value: "/meili_data/data.ms" },
                  { name: "MEILI_NO_ANALYTICS", value: "true" },
                  { name: "MEILI_MASTER_KEY", valueFrom: meiliKey },
                ],
                volumeMounts: [{ name: "data", mountPath: "/meili_data" }],
                readinessProbe: { httpGet: { path: "/health", port: 7700 }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: "/health", port: 7700 }, periodSeconds: 10 },
                resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "4Gi" } },
              },
            ],
          },
        },
        volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "50Gi" } } } }],
      },
    },
    { apiVersion: "v1", kind: "Service", metadata: { name: "meilisearch", labels }, spec: { clusterIP: "None", selector: labels, ports: [{ name: "http", port: 7700, targetPort: 7700 }] } },
  ];
}

/** The edge's pod labels on a release track: "stable" (base) or "canary" (overlays/canary). */
const edgeLabels = (track: "stable" | "canary") => ({ app: "oasis", component: "edge", track });

/** The edge's Deployment on `track`, running `image`. */
function edgeDeployment(name: string, track: "stable" | "canary", replicas: number, img = image): Obj {
  const labels = edgeLabels(track);
  const upstreams = mesh.map((e) => ({ name: `OASIS_${e.name.toUpperCase()}_URL`, value: upstreamUrl(e.name, e.port) }));
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels, annotations: scrape(edgePort) }, spec: podSpec("edge", labels, [container("edge", "edge/main.ts", edgePort, { image: img, env: [{ name: "OASIS_EDGE_PORT", value: String(edgePort) }, ...upstreams] })]) },
    },
  };
}

function edge(): Obj[] {
  const labels = edgeLabels("stable");
  return [
    serviceAccount("edge"),
    edgeDeployment("edge", "stable", 2),
// An L4 LoadBalancer adds no X-Forwarded-For, so the edge trusts no proxy
    // (OASIS_EDGE_TRUSTED_PROXIES unset = 0: a client's own header is ignored), and
    // externalTrafficPolicy Local keeps the client's address as the TCP peer (no SNAT by
    // kube-proxy), which the rate limits and the sign-in throttle key on.
    { apiVersion: "v1", kind: "Service", metadata: { name: "edge", labels }, spec: { type: "LoadBalancer", externalTrafficPolicy: "Local", selector: labels, ports: [{ name: "http", port: 80, targetPort: edgePort }] } },
    {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "edge" },
      spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "edge" }, minReplicas: 2, maxReplicas: 30, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 60 } } }] },
    },
    { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "edge" }, spec: { maxUnavailable: 1, selector: { matchLabels: labels } } },
  ];
}

const config = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "oasis-config" },
  data: {
    OASIS_LOG_LEVEL: "info",
    OASIS_MESH_SERVICES: mesh.map((e) => e.name).join(","),
    ...Object.fromEntries(mesh.map((e) => [`OASIS_${e.name.toUpperCase()}_URL`, upstreamUrl(e.name, e.port)])),
  },
};

/** The Secret holding the stores' own passwords (deploy/README.md). */
const storeSecret = "oasis-stores";
const fromSecret = (name: string, key: string) => ({ name, valueFrom: { secretKeyRef: { name: storeSecret, key } } });

/**
 * MariaDB, Redis and NATS, each with a password from the Secret `oasis-stores` and
 * reachable only from Oasis pods: MariaDB's root password (per-service users with
 * grants on their own database only are created by the deployer, deploy/README.md),
 * Redis `--requirepass`, NATS `--user/--pass`. A managed store replaces these; the
 * services only need their URLs (with credentials) in their Secrets.
 */
function storeManifests(): Obj[] {
  const out: Obj[] = [];
  const sts = (name: string, image: string, port: number, c: Obj, storage: string): Obj => ({
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, labels: { app: name } },
    spec: {
      serviceName: name,
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { automountServiceAccountToken: false, securityContext: podSecurity(storeUid), containers: [{ name, image, ports: [{ containerPort: port }], securityContext: containerSecurity(false), ...c }] },
      },
      volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage } } } }],
    },
  });
  const svc = (name: string, port: number): Obj => ({ apiVersion: "v1", kind: "Service", metadata: { name, labels: { app: name } }, spec: { selector: { app: name }, ports: [{ port, targetPort: port }] } });
  out.push(
    sts("mariadb", "mariadb:11.4", 3306, { env: [fromSecret("MARIADB_ROOT_PASSWORD", "mariadb-root-password")], volumeMounts: [{ name: "data", mountPath: "/var/lib/mysql" }] }, "100Gi"),
    svc("mariadb", 3306),
    sts(
      "redis",
      "redis:7.4",
      6379,
      { env: [fromSecret("REDIS_PASSWORD", "redis-password")], command: ["redis-server", "--requirepass", "$(REDIS_PASSWORD)", "--appendonly", "yes", "--tracking-table-max-keys", "1000000"], volumeMounts: [{ name: "data", mountPath: "/data" }] },
      "20Gi",
    ),
    svc("redis", 6379),
    sts(
      "nats",
      "nats:2.10",
      4222,
      { env: [fromSecret("NATS_USER", "nats-user"), fromSecret("NATS_PASSWORD", "nats-password")], args: ["-js", "-sd", "/data", "--user", "$(NATS_USER)", "--pass", "$(NATS_PASSWORD)"], volumeMounts: [{ name: "data", mountPath: "/data" }] },
      "50Gi",
    ),
    svc("nats", 4222),
  );
  return out;
}

const dns = { to: [{ namespaceSelector: {}, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }], ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] };
const component = (name: string) => ({ podSelector: { matchLabels: { app: "oasis", component: k8sName(name) } } });

/** Default deny, then what each process may receive and reach. */
function networkPolicies(): Obj[] {
  const policy = (name: string, spec: Obj): Obj => ({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: k8sName(name) }, spec });
  const monitoring = (port: number) => ({
    from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": monitoringNamespace } } }],
    ports: [{ protocol: "TCP", port: metricsPortOf(port) }],
  });
  const toService = (name: string) => ({ to: [component(name)], ports: [{ protocol: "TCP", port: mesh.find((e) => e.name === name)!.port }] });
  const toStores = (names: readonly string[]) =>
    stores.filter((s) => names.includes(s.name)).map((s) => ({ to: [{ podSelector: { matchLabels: { app: s.name } } }], ports: [{ protocol: "TCP", port: s.port }] }));
  const toMeili = { to: [component("meilisearch")], ports: [{ protocol: "TCP", port: 7700 }] };
  const out: Obj[] = [policy("default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] })];
  // Each store: only Oasis pods, on its port; it reaches nothing but DNS.
  for (const st of stores) {
    out.push(
      policy(st.name, {
        podSelector: { matchLabels: { app: st.name } },
        policyTypes: ["Ingress", "Egress"],
        ingress: [{ from: [{ podSelector: { matchLabels: { app: "oasis" } } }], ports: [{ protocol: "TCP", port: st.port }] }],
        egress: [dns],
      }),
    );
  }
  out.push(
    policy("edge", {
      podSelector: { matchLabels: { app: "oasis", component: "edge" } },
      policyTypes: ["Ingress", "Egress"],
      // The internet (through the load balancer) on the edge's port; Prometheus on its admin port.
      ingress: [{ ports: [{ protocol: "TCP", port: edgePort }] }, monitoring(edgePort)],
      // Every service's port (it routes to all), Redis (rate limits, worker ids), NATS
      // (the kill switches' KV bucket it watches, kit/kill-switches.ts), DNS.
      egress: [dns, ...mesh.map((e) => toService(e.name)), ...toStores(["redis", "nats"])],
    }),
  );
  for (const e of mesh) {
    const callers = mesh.filter((c) => (upstreamsOf[c.name] ?? []).includes(e.name)).map((c) => component(c.name));
    out.push(
      policy(e.name, {
        podSelector: { matchLabels: { app: "oasis", component: k8sName(e.name) } },
        policyTypes: ["Ingress", "Egress"],
        ingress: [{ from: [component("edge"), ...callers], ports: [{ protocol: "TCP", port: e.port }] }, monitoring(e.port)],
        egress: [dns, ...(upstreamsOf[e.name] ?? []).map(toService), ...toStores(stores.map((s) => s.name)), ...(e.name === "search" ? [toMeili] : [])],
      }),
    );
  }
  // Meilisearch: only the search service, on its HTTP port; it reaches nothing but DNS.
  out.push(
    policy("meilisearch", {
      podSelector: { matchLabels: { app: "oasis", component: "meilisearch" } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: [component("search")], ports: [{ protocol: "TCP", port: 7700 }] }],
      egress: [dns],
    }),
  );
  return out;
}

function write(path: string, text: string): void {
  mkdirSync(join(out, path, ".."), { recursive: true });
  writeFileSync(join(out, path), text);
}

for (const e of mesh) if (!upstreamsOf[e.name]) throw new Error(`deploy/generate.ts: add "${e.name}" to upstreamsOf (the services it calls)`);
const baseFiles = ["config.yaml", "network-policies.yaml", "stores.yaml", "edge.yaml", ...mesh.map((e) => `${e.name}.yaml`), "meilisearch.yaml"];
write("base/meilisearch.yaml", yaml(meilisearch()));
write("base/config.yaml", yaml([config]));
write("base/network-policies.yaml", yaml(networkPolicies()));
write("base/stores.yaml", yaml(storeManifests()));
write("base/edge.yaml", yaml(edge()));
for (const e of mesh) write(`base/${e.name}.yaml`, yaml(workload(e.name, e.port)));
write(
  "base/kustomization.yaml",
  // Secrets (oasis-<name>) and the public keys ConfigMap are created by the deployer
  // (deploy/README.md), never generated from a committed file.
  yaml([{ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", namespace: "oasis", resources: baseFiles }]),
);
/** An overlay's kustomization; its own resources (canary.yaml) land in the namespace too. */
const kustomization = (body: Obj): Obj => ({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", namespace: "oasis", ...body });
/** A JSON 6902 patch of the objects `target` selects. */
const patch = (target: Obj, ops: Obj[]): Obj => ({ target, patch: JSON.stringify(ops) });
/** The Deployments (each service but media, and the edge): the ones with an HPA. */
const scaled = [...mesh.filter((e) => e.name !== "media").map((e) => k8sName(e.name)), "edge"];

write(
  "overlays/dev/kustomization.yaml",
  yaml([
    kustomization({
      resources: ["../../base"],
      replicas: scaled.map((name) => ({ name, count: 1 })),
      // The autoscalers may go down to the one replica dev runs.
      patches: [patch({ kind: "HorizontalPodAutoscaler" }, [{ op: "replace", path: "/spec/minReplicas", value: 1 }])],
    }),
  ]),
);
write(
  "overlays/prod/kustomization.yaml",
  yaml([
    kustomization({
      resources: ["../../base"],
      replicas: Object.entries(prodReplicas).map(([name, count]) => ({ name, count })),
      patches: Object.entries(prodReplicas).map(([name, count]) => patch({ kind: "HorizontalPodAutoscaler", name }, [{ op: "replace", path: "/spec/minReplicas", value: count }])),
    }),
  ]),
);
const edgeEnvPatch = (name: string) => patch({ kind: "Deployment", name }, [{ op: "add", path: "/spec/template/spec/containers/0/env/-", value: { name: "OASIS_EDGE_TRUSTED_PROXIES", value: "1" } }]);
write(
  "overlays/canary/kustomization.yaml",
  yaml([
    kustomization({
      resources: ["../../base", "canary.yaml"],
      patches: [
        // Only the Gateway reaches the edges: no LoadBalancer of their own, and the
        // Gateway's one hop of X-Forwarded-For is trusted for the client address.
        patch({ kind: "Service", name: "edge" }, [
          { op: "replace", path: "/spec/type", value: "ClusterIP" },
          { op: "remove", path: "/spec/externalTrafficPolicy" },
        ]),
        edgeEnvPatch("edge"),
        edgeEnvPatch("edge-canary"),
      ],
    }),
  ]),
);
/** The GatewayClass of the cluster's Gateway controller (deploy/README.md). */
const gatewayClass = "oasis-public";
write(
  "overlays/canary/canary.yaml",
  yaml([
    edgeDeployment("edge-canary", "canary", 1, "registry.example.com/oasis:1.1.0-rc1"),
    { apiVersion: "v1", kind: "Service", metadata: { name: "edge-canary", labels: edgeLabels("canary") }, spec: { selector: edgeLabels("canary"), ports: [{ name: "http", port: 80, targetPort: edgePort }] } },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "public" },
      spec: { gatewayClassName: gatewayClass, listeners: [{ name: "http", protocol: "HTTP", port: 80, allowedRoutes: { namespaces: { from: "Same" } } }] },
    },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "oasis" },
      spec: { parentRefs: [{ name: "public" }], rules: [{ backendRefs: [{ name: "edge", port: 80, weight: 90 }, { name: "edge-canary", port: 80, weight: 10 }] }] },
    },
  ]),
);
console.log(`wrote deploy/k8s (${baseFiles.length} base files, 3 overlays)`);
