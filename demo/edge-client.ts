/**
 * A tiny JSON client for the edge, as an app would use it: Connect JSON calls
 * (`POST /<package>.<Service>/<Method>`) with an optional bearer token. Errors come back
 * as `EdgeError` carrying the edge's `{code, message, details}`.
 */
export class EdgeError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(`${code}: ${message}`);
  }
}

export class EdgeClient {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Calls `service/method` (e.g. "oasis.identity.v1.IdentityService", "CreateAccount"). */
  async call<T = any>(service: string, method: string, body: unknown, token?: string): Promise<T> {
    const res = await fetch(`${this.baseUrl}/${service}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const json = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
    if (!res.ok) throw new EdgeError(res.status, json.code ?? "unknown", json.message ?? res.statusText, json);
    return json as T;
  }

  /** Uploads bytes to `POST /v1/media?bucket=...` (raw body), idempotent by `key`. */
  async upload<T = any>(bucket: string, bytes: Uint8Array, contentType: string, token: string, key?: string): Promise<T> {
    const res = await fetch(`${this.baseUrl}/v1/media?bucket=${encodeURIComponent(bucket)}`, {
      method: "POST",
      headers: { "content-type": contentType, authorization: `Bearer ${token}`, ...(key ? { "idempotency-key": key } : {}) },
      body: bytes,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const json = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
    if (!res.ok) throw new EdgeError(res.status, json.code ?? "unknown", json.message ?? res.statusText, json);
    return json as T;
  }
}

export { inParallel } from "../kit/parallel.ts";
