/** Calls to the edge's REST routes as the app makes them, in tests. */

/** One REST reply: the status, the headers and the JSON body (undefined when empty or not JSON). */
export interface RestReply {
  readonly status: number;
  readonly headers: Headers;
  // The body is whatever JSON the route returns; tests read the fields they check.
  readonly json: any;
}

/** A `rest(method, path, body?, token?)` for the edge at `baseUrl`; each request has `timeoutMs` (default 30 s). */
export function restClient(baseUrl: string | (() => string), timeoutMs = 30_000) {
  return async function rest(method: string, path: string, body?: unknown, token?: string): Promise<RestReply> {
    const res = await fetch(`${typeof baseUrl === "string" ? baseUrl : baseUrl()}${path}`, {
      method,
      headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, json };
  };
}
