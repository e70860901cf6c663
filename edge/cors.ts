/**
 * CORS for browser clients (Fetch standard, section 3.2). The API authenticates with
 * bearer tokens, never cookies, so allowing any origin does not expose anyone's
 * session; operators can still restrict origins with OASIS_EDGE_CORS_ORIGINS.
 */
const allowHeaders = [
  "authorization",
  "content-type",
  "connect-protocol-version",
  "connect-timeout-ms",
  "x-server-timeout",
  "x-request-id",
  "traceparent",
  "if-none-match",
  "range",
].join(", ");

const exposeHeaders = [
  "x-request-id",
  "ratelimit-limit",
  "ratelimit-remaining",
  "ratelimit-reset",
  "retry-after",
  "etag",
  "content-range",
  "accept-ranges",
].join(", ");

export class Cors {
  private readonly any: boolean;
  private readonly origins: Set<string>;

  /** `origins`: "*" or a list of exact origins. */
  constructor(origins: readonly string[]) {
    this.any = origins.includes("*");
    this.origins = new Set(origins);
  }

  private allowed(origin: string | null): string | undefined {
    if (!origin) return undefined;
    if (this.any) return "*";
    return this.origins.has(origin) ? origin : undefined;
  }

  /** Headers to add to a response for a request from `origin`. */
  headers(origin: string | null): Record<string, string> {
    const allow = this.allowed(origin);
    if (!allow) return {};
    const h: Record<string, string> = { "access-control-allow-origin": allow, "access-control-expose-headers": exposeHeaders };
    if (allow !== "*") h.vary = "Origin";
    return h;
  }

  /** The answer to a preflight (OPTIONS with Access-Control-Request-Method). */
  preflight(origin: string | null): Response {
    const allow = this.allowed(origin);
    if (!allow) return new Response(null, { status: 403 });
    return new Response(null, {
      status: 204,
      headers: {
        "access-control-allow-origin": allow,
        "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
        "access-control-allow-headers": allowHeaders,
        "access-control-max-age": "600",
        ...(allow !== "*" ? { vary: "Origin" } : {}),
      },
    });
  }
}
