/**
 * pino JSON logs. Every line carries the service name; lines written during a call also
 * carry its request id and trace id (read from kit/call-context.ts), so one request can
 * be followed across processes by grepping its id.
 */
import pino, { type Logger } from "pino";
import { currentCall } from "./call-context.ts";

export type { Logger };

/** A logger for `service`; `destination` (default stdout) lets tests read the lines. */
export function createLogger(service: string, level = "info", destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const call = currentCall();
      return call ? { request_id: call.requestId, trace_id: call.traceId } : {};
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
