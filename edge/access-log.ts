/**
 * The edge's access log: one structured pino line per request, `msg: "request"`, with
 * the route template (never the raw URL: no ids or query strings in the log's keys),
 * HTTP method, status, duration (ms), user id (or null), request id, trace id and the
 * upstream service called (or null).
 *
 * Sampled above a rate: in each second the first `ratePerSecond` requests are logged;
 * beyond that each is logged with probability `sampleShare`, and its line carries
 * `sample_weight` = 1 / sampleShare (1 otherwise), so counts summed from the log stay
 * right. Server errors (5xx) are always logged. At 2,000 req/s with the defaults (50/s,
 * 1%) that is ~70 lines a second instead of 2,000.
 */
import type { Logger } from "#kit/logger.ts";

export interface AccessLogOptions {
  /** Requests logged in full per second before sampling starts. */
  readonly ratePerSecond: number;
  /** Share (0-1) of the requests above the rate that are logged. */
  readonly sampleShare: number;
}

/** One request, as logged. */
export interface AccessEntry {
  readonly route: string;
  readonly method: string;
  readonly status: number;
  readonly durationMs: number;
  readonly user: bigint | null;
  readonly requestId: string;
  readonly traceId: string;
  readonly upstream: string | null;
}

export interface AccessLog {
  /** Logs the request, or counts it as sampled out. Returns whether it was logged. */
  write(entry: AccessEntry): boolean;
}

export function createAccessLog(log: Logger, opts: AccessLogOptions, clock: () => number = Date.now, random: () => number = Math.random): AccessLog {
  let second = -1;
  let inSecond = 0;
  return {
    write(e) {
      const now = Math.floor(clock() / 1000);
      if (now !== second) {
        second = now;
        inSecond = 0;
      }
      inSecond++;
      let weight = 1;
      if (inSecond > opts.ratePerSecond && e.status < 500) {
        if (!(opts.sampleShare > 0) || random() >= opts.sampleShare) return false;
        weight = 1 / opts.sampleShare;
      }
      log.info(
        {
          route: e.route,
          http_method: e.method,
          status: e.status,
          duration_ms: Math.round(e.durationMs * 100) / 100,
          user_id: e.user === null ? null : String(e.user),
          request_id: e.requestId,
          trace_id: e.traceId,
          upstream: e.upstream,
          sample_weight: weight,
        },
        "request",
      );
      return true;
    },
  };
}
