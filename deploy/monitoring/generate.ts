/**
 * Writes the monitoring of the mesh from one source, so alerts, their unit tests and
 * the dashboards never drift from each other or from mesh.config.ts:
 *   bun deploy/monitoring/generate.ts
 *
 * - rules.yaml: Prometheus rule groups (recording rules and alerts), the file promtool
 *   checks (`promtool check rules`) and unit-tests (`promtool test rules rules.test.yaml`,
 *   written by hand next to it: its cases are the alerts' specification).
 * - prometheus-rule.yaml: the same groups as a prometheus-operator PrometheusRule.
 * - dashboards/<process>.json: a Grafana dashboard per service and for the edge.
 *
 * Alerts (severity "page" wakes someone, "ticket" waits for working hours):
 * - error ratio and latency: multiwindow, multi-burn-rate SLO alerts (Google SRE
 *   Workbook, "Alerting on SLOs", table 5-8): page when the 1 h and 5 min windows both
 *   burn the 30-day budget 14.4x as fast (2% of it in an hour), or the 6 h and 30 min
 *   windows 6x (5% in 6 hours). SLOs: the edge answers 99.9% of requests without a
 *   5xx, and 99% within 500 ms; each service answers 99.9% of RPCs without a server
 *   error code (Unknown, Internal, Unavailable, DataLoss, DeadlineExceeded).
 * - backlog age: an outbox event unsent for 2 min, or a consumer's oldest undelivered
 *   message older than 5 min (fan-out lag is what users see as "my post is missing").
 * - DLQ growth: any new dead letter in 15 min (ticket); more than 100 parked (page).
 * - drift: the ledger audit finds drifted or negative accounts, or debits != credits
 *   (page); interaction's reconcile job repaired post counters in the last hour (ticket:
 *   users saw wrong counts for a while, and a write path lost an update).
 * - ejections: an edge skipping an upstream replica for 5 min (ticket), or half of an
 *   upstream's replicas (page).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mesh } from "../../mesh.config.ts";

const dir = import.meta.dir;

type Rule = Record<string, unknown>;
interface Group {
  readonly name: string;
  readonly interval?: string;
  readonly rules: Rule[];
}

/** Server error codes: the ones that count against availability (client errors do not). */
export const serverErrorCodes = "Unknown|Internal|Unavailable|DataLoss|DeadlineExceeded";
/** Edge latency SLO threshold, seconds (a bucket boundary of edge_http_request_duration_seconds). */
export const latencyThresholdSeconds = 0.5;
const windows = ["5m", "30m", "1h", "6h"] as const;

function burnAlerts(name: string, what: string, ratio: string, budget: number, by: string): Rule[] {
  const fast = `${ratio.replace("{w}", "1h")} > ${14.4 * budget} and ${ratio.replace("{w}", "5m")} > ${14.4 * budget}`;
  const slow = `${ratio.replace("{w}", "6h")} > ${6 * budget} and ${ratio.replace("{w}", "30m")} > ${6 * budget}`;
  const common = (speed: string, burn: number, expr: string) => ({
    alert: `${name}${speed}`,
    expr,
    for: speed === "FastBurn" ? "2m" : "15m",
    labels: { severity: "page", slo: name },
    annotations: {
      summary: `${what}: error budget burning ${burn}x too fast`,
      description: `{{ $labels.${by} }}: ${what} over the last ${speed === "FastBurn" ? "hour" : "6 hours"} burns the 30-day budget (${(budget * 100).toFixed(1)}%) ${burn}x as fast as it may. Dashboard: Oasis / {{ $labels.${by} }}.`,
      runbook: "docs/architecture.md#operating-oasis",
    },
  });
  return [common("FastBurn", 14.4, fast), common("SlowBurn", 6, slow)];
}

export function groups(): Group[] {
  const recording: Rule[] = [];
  for (const w of windows) {
    recording.push(
      {
        record: `oasis:edge_http_errors:ratio_rate${w}`,
        expr: `sum by (service) (rate(edge_http_requests_total{status=~"5.."}[${w}])) / sum by (service) (rate(edge_http_requests_total[${w}]))`,
      },
      {
        record: `oasis:edge_http_slow:ratio_rate${w}`,
        expr: `1 - sum by (service) (rate(edge_http_request_duration_seconds_bucket{le="${latencyThresholdSeconds}"}[${w}])) / sum by (service) (rate(edge_http_request_duration_seconds_count[${w}]))`,
      },
      {
        record: `oasis:grpc_server_errors:ratio_rate${w}`,
        expr: `sum by (service) (rate(grpc_server_handled_total{grpc_code=~"${serverErrorCodes}"}[${w}])) / sum by (service) (rate(grpc_server_handled_total[${w}]))`,
      },
    );
  }
  return [
    { name: "oasis-slo-recording", interval: "30s", rules: recording },
    {
      name: "oasis-slo",
      rules: [
        ...burnAlerts("EdgeAvailability", "edge 5xx ratio", "oasis:edge_http_errors:ratio_rate{w}", 0.001, "service"),
        ...burnAlerts("EdgeLatency", `edge requests slower than ${latencyThresholdSeconds * 1000} ms`, "oasis:edge_http_slow:ratio_rate{w}", 0.01, "service"),
        ...burnAlerts("ServiceAvailability", "server error ratio", "oasis:grpc_server_errors:ratio_rate{w}", 0.001, "service"),
      ],
    },
    {
      name: "oasis-events",
      rules: [
        {
          alert: "OutboxBacklogOld",
          expr: "max by (service) (outbox_oldest_unsent_age_seconds) > 120",
          for: "5m",
          labels: { severity: "page" },
          annotations: {
            summary: "events are not leaving the outbox",
            description: "{{ $labels.service }}: an event has waited {{ $value | humanizeDuration }} to be published (NATS down, or the relay stuck). Consumers see nothing new.",
          },
        },
        {
          alert: "ConsumerLagHigh",
          expr: "max by (service, consumer) (events_consumer_lag_seconds) > 300",
          for: "10m",
          labels: { severity: "page" },
          annotations: {
            summary: "an event consumer is falling behind",
            description: "{{ $labels.service }}/{{ $labels.consumer }}: its oldest undelivered event is {{ $value | humanizeDuration }} old. `bun run admin consumers` shows every consumer's lag.",
          },
        },
        {
          alert: "DeadLettersGrowing",
          expr: "sum by (service, consumer) (increase(events_dead_lettered_total[15m])) > 0",
          labels: { severity: "ticket" },
          annotations: {
            summary: "events are being dead-lettered",
            description: "{{ $labels.service }}/{{ $labels.consumer }} dead-lettered {{ $value }} events in 15 min. `bun run admin dlq list --consumer {{ $labels.consumer }}`, fix the cause, then `dlq replay`.",
          },
        },
        {
          alert: "DeadLettersPiledUp",
          expr: "max by (service, consumer) (events_dead_letters) > 100",
          for: "15m",
          labels: { severity: "page" },
          annotations: {
            summary: "many dead letters waiting",
            description: "{{ $labels.service }}/{{ $labels.consumer }} has {{ $value }} dead letters parked; they expire after 30 days.",
          },
        },
      ],
    },
    {
      name: "oasis-drift",
      rules: [
        {
          alert: "LedgerDrift",
          expr: "max(wallet_ledger_drifted_accounts) > 0 or max(abs(wallet_ledger_imbalance_drops)) > 0",
          labels: { severity: "page" },
          annotations: {
            summary: "the drops ledger does not balance",
            description: "The wallet audit found drifted accounts or debits != credits ({{ $value }}). `AuditLedger` lists the accounts; nothing is fixed automatically.",
          },
        },
        {
          alert: "LedgerNegativeAccounts",
          expr: "max(wallet_ledger_negative_accounts) > 0",
          labels: { severity: "page" },
          annotations: { summary: "user accounts below zero", description: "{{ $value }} user accounts hold fewer than 0 drops at the last audit." },
        },
        {
          alert: "CounterDrift",
          expr: "sum(increase(interaction_counter_drift_total[1h])) > 0",
          labels: { severity: "ticket" },
          annotations: {
            summary: "post counters drifted from their rows",
            description: "interaction's reconcile job repaired {{ $value }} post counters in the last hour; some write path lost an update. `bun run admin reconcile counts` checks again.",
          },
        },
      ],
    },
    {
      name: "oasis-ejections",
      rules: [
        {
          alert: "UpstreamReplicaEjected",
          expr: "max by (upstream, url) (edge_upstream_replica_ejected) == 1",
          for: "5m",
          labels: { severity: "ticket" },
          annotations: { summary: "an upstream replica is ejected", description: "Edges have skipped {{ $labels.upstream }} at {{ $labels.url }} for 5 min (failed health checks or calls)." },
        },
        {
          alert: "UpstreamMostlyEjected",
          expr: "avg by (upstream) (edge_upstream_replica_ejected) >= 0.5",
          for: "2m",
          labels: { severity: "page" },
          annotations: { summary: "half of an upstream's replicas are ejected", description: "{{ $labels.upstream }}: {{ $value | humanizePercentage }} of its replicas are ejected by the edges." },
        },
      ],
    },
  ];
}

/** Every metric name the rules read (checked against the code by monitoring.test.ts). */
export function metricsRead(): string[] {
  const names = new Set<string>();
  for (const g of groups()) {
    for (const r of g.rules) {
      for (const m of String(r.expr).matchAll(/\b([a-z_][a-z0-9_]*)(?=\{|\[|\)| >| ==| or|$)/g)) {
        const n = m[1]!;
        if (!n.includes(":") && /_(total|seconds|events|messages|letters|accounts|drops|ejected|bucket|count)$/.test(n)) names.add(n);
      }
    }
  }
  return [...names].sort();
}

// Grafana dashboards (schemaVersion 39), one per process, with a datasource variable.
type Panel = Record<string, unknown>;
let panelId = 0;
function panel(title: string, exprs: Array<{ expr: string; legend: string }>, unit: string, x: number, y: number, w = 12): Panel {
  return {
    id: ++panelId,
    type: "timeseries",
    title,
    datasource: { type: "prometheus", uid: "${datasource}" },
    gridPos: { x, y, w, h: 8 },
    fieldConfig: { defaults: { unit }, overrides: [] },
    targets: exprs.map((e, i) => ({ refId: String.fromCharCode(65 + i), expr: e.expr, legendFormat: e.legend, datasource: { type: "prometheus", uid: "${datasource}" } })),
  };
}

export function dashboard(name: string): Record<string, unknown> {
  panelId = 0;
  const sel = `service="${name}"`;
  const panels: Panel[] =
    name === "edge"
      ? [
          panel("Requests by route", [{ expr: `sum by (route) (rate(edge_http_requests_total{${sel}}[5m]))`, legend: "{{route}}" }], "reqps", 0, 0),
          panel("5xx ratio (SLO 99.9%)", [{ expr: `oasis:edge_http_errors:ratio_rate5m{${sel}}`, legend: "5xx" }], "percentunit", 12, 0),
          panel(
            "Latency",
            [0.5, 0.99].map((q) => ({ expr: `histogram_quantile(${q}, sum by (le) (rate(edge_http_request_duration_seconds_bucket{${sel}}[5m])))`, legend: `p${q * 100}` })),
            "s",
            0,
            8,
          ),
          panel("Requests by status", [{ expr: `sum by (status) (rate(edge_http_requests_total{${sel}}[5m]))`, legend: "{{status}}" }], "reqps", 12, 8),
          panel("Ejected upstream replicas", [{ expr: "sum by (upstream) (edge_upstream_replica_ejected)", legend: "{{upstream}}" }], "short", 0, 16),
          panel("Redis calls (rate limiting)", [{ expr: `rate(edge_redis_calls_total{${sel}}[5m])`, legend: "calls" }], "ops", 12, 16),
          panel("Timeline pages by the page path (hit: from the feed's Redis)", [{ expr: `sum by (result) (rate(edge_page_path_total{${sel}}[5m]))`, legend: "{{result}}" }], "reqps", 0, 24),
          panel("Page path misses by reason (asked the feed)", [{ expr: `sum by (reason) (rate(edge_page_path_misses_total{${sel}}[5m]))`, legend: "{{reason}}" }], "reqps", 12, 24),
        ]
      : [
          panel("RPCs by method", [{ expr: `sum by (grpc_method) (rate(grpc_server_handled_total{${sel}}[5m]))`, legend: "{{grpc_method}}" }], "reqps", 0, 0),
          panel("Server error ratio (SLO 99.9%)", [{ expr: `oasis:grpc_server_errors:ratio_rate5m{${sel}}`, legend: "errors" }], "percentunit", 12, 0),
          panel(
            "Latency p99 by method",
            [{ expr: `histogram_quantile(0.99, sum by (le, grpc_method) (rate(grpc_server_handling_seconds_bucket{${sel}}[5m])))`, legend: "{{grpc_method}}" }],
            "s",
            0,
            8,
          ),
          panel("Codes", [{ expr: `sum by (grpc_code) (rate(grpc_server_handled_total{${sel}}[5m]))`, legend: "{{grpc_code}}" }], "reqps", 12, 8),
          panel(
            "Consumer lag",
            [
              { expr: `max by (consumer) (events_consumer_lag_seconds{${sel}})`, legend: "{{consumer}} age" },
              { expr: `max by (consumer) (events_consumer_pending_messages{${sel}})`, legend: "{{consumer}} pending" },
            ],
            "short",
            0,
            16,
          ),
          panel(
            "Dead letters and redeliveries",
            [
              { expr: `max by (consumer) (events_dead_letters{${sel}})`, legend: "{{consumer}} parked" },
              { expr: `sum by (consumer) (rate(events_consumer_redeliveries_total{${sel}}[5m]))`, legend: "{{consumer}} redeliveries/s" },
            ],
            "short",
            12,
            16,
          ),
          panel(
            "Outbox",
            [
              { expr: `max(outbox_backlog_events{${sel}})`, legend: "unsent events" },
              { expr: `max(outbox_oldest_unsent_age_seconds{${sel}})`, legend: "oldest unsent, s" },
            ],
            "short",
            0,
            24,
          ),
          panel("Process CPU", [{ expr: `sum(rate(process_cpu_seconds_total{${sel}}[5m]))`, legend: "cores" }], "short", 12, 24),
        ];
  return {
    uid: `oasis-${name}`,
    title: `Oasis / ${name}`,
    tags: ["oasis"],
    timezone: "utc",
    schemaVersion: 39,
    version: 1,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    templating: { list: [{ name: "datasource", type: "datasource", query: "prometheus", label: "Prometheus" }] },
    annotations: { list: [] },
    panels,
  };
}

/** The processes with a dashboard: the edge and every mesh service. */
export const dashboardNames = ["edge", ...mesh.map((e) => e.name)];

/** The files this generator writes, by path relative to deploy/monitoring. */
export function files(): Record<string, string> {
  const gs = groups();
  const header = "# Generated by deploy/monitoring/generate.ts; edit that file, then run it.\n";
  const out: Record<string, string> = {
    "rules.yaml": header + Bun.YAML.stringify({ groups: gs }, null, 2) + "\n",
    "prometheus-rule.yaml":
      header +
      Bun.YAML.stringify(
        { apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata: { name: "oasis", labels: { app: "oasis", role: "alert-rules" } }, spec: { groups: gs } },
        null,
        2,
      ) +
      "\n",
  };
  for (const n of dashboardNames) out[`dashboards/${n}.json`] = JSON.stringify(dashboard(n), null, 2) + "\n";
  return out;
}

if (import.meta.main) {
  mkdirSync(join(dir, "dashboards"), { recursive: true });
  for (const [path, text] of Object.entries(files())) writeFileSync(join(dir, path), text);
  console.log(`wrote ${Object.keys(files()).length} files in deploy/monitoring`);
}
