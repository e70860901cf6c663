/**
 * Client side of the edge's run-time rate limits: calls identity's admin RPC
 * SetEdgeRateLimits through the edge (the only way to override the limits; the
 * override always has a TTL, so a killed bulk load cannot leave the limits raised).
 * Bulk importers (the demo loader) and benchmarks drive the edge from one IP far above
 * any real client's rate; they raise the limits this way instead of turning the
 * limiter off, so every request still pays for its GCRA check, and clear them
 * afterwards. The caller must be an admin: an account whose handle is in identity's
 * OASIS_ADMIN_HANDLES (test meshes name `testAdminHandle`).
 */
import { randomBytes } from "node:crypto";
import type { ClassLimits, RouteClass } from "./rate-limit.ts";

/** How long edges take to pick up a change: their reload period (5 s) plus slack, ms. */
export const limitsReloadMs = 5_500;

/** Default lifetime of an override: an hour, renewed by long loads. */
export const defaultOverrideTtlSeconds = 3_600;

async function post(edgeUrl: string, path: string, body: unknown, token?: string): Promise<any> {
  const res = await fetch(`${edgeUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const json = (await res.json()) as any;
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** An admin account this process created; `token()` signs in afresh (tokens live 15 minutes). */
export interface EdgeAdmin {
  token(): Promise<string>;
}

/**
 * Creates the admin account `handle` with a random password kept only in memory. The
 * handle must be named in identity's OASIS_ADMIN_HANDLES and not taken yet (each run
 * uses a fresh one, so no admin password is ever written down).
 */
export async function createEdgeAdmin(edgeUrl: string, handle: string): Promise<EdgeAdmin> {
  const password = randomBytes(18).toString("base64url");
  await post(edgeUrl, "/v1/accounts", { handle, email: `${handle}@admin.invalid`, password });
  return { token: async () => (await post(edgeUrl, "/v1/sessions", { login: handle, password })).accessToken as string };
}

/**
 * Sets the run-time limits (partial: classes not named keep their defaults) for
 * `ttlSeconds`, or clears them with `null`. Waits until every edge has reloaded unless
 * `wait` is false.
 */
export async function setEdgeLimits(
  edgeUrl: string,
  admin: EdgeAdmin | string,
  limits: Partial<Record<RouteClass, ClassLimits>> | null,
  opts: { wait?: boolean; ttlSeconds?: number } = {},
): Promise<void> {
  const list = Object.entries(limits ?? {}).map(([routeClass, l]) => ({ routeClass, perUser: l.perUser, perIp: l.perIp }));
  await post(edgeUrl, "/v1/edge/rateLimits", { limits: list, ttlSeconds: limits ? (opts.ttlSeconds ?? defaultOverrideTtlSeconds) : 0 }, typeof admin === "string" ? admin : await admin.token());
  if (opts.wait ?? true) await Bun.sleep(limitsReloadMs);
}

/** Limits no single importer reaches (10^8 requests a minute on every class and key). */
export const bulkImportLimits: Readonly<Record<RouteClass, ClassLimits>> = (() => {
  const huge = { limit: 100_000_000, periodSeconds: 60 };
  const all = { perUser: huge, perIp: huge };
  return { auth: all, read: all, write: all, upload: all, stream: all };
})();

/** Raises every limit out of reach (benchmarks): signs up `adminHandle` and overrides for an hour. */
export async function raiseEdgeLimits(edgeUrl: string, adminHandle: string): Promise<void> {
  await setEdgeLimits(edgeUrl, await createEdgeAdmin(edgeUrl, adminHandle), bulkImportLimits);
}
