/**
 * The kill switches (kit/kill-switches.ts) at the edge: checked for every RPC and
 * stream before its rate limit is charged, so a refused request costs no Redis call.
 * - shed: a share of the route class's requests is refused at random (503 with
 *   Retry-After), before the token is even verified: shedding is for overload.
 * - a disabled method or service: 503, whatever the route (REST, Connect, upload).
 * - read-only mode: the write and upload classes are refused (503); reads and the auth
 *   class (sign-in) go on.
 * - disable uploads: the upload class is refused (503).
 * - a frozen user: their write and upload requests are refused (403).
 * The services apply the method, read-only and freeze switches again (kit's
 * killSwitchInterceptor), so a call that skips the edge gets no more.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { methodDisabled, noSwitches, type KillSwitchState } from "#kit/kill-switches.ts";
import type { RouteClass } from "./rate-limit.ts";

/** Seconds a shed client is asked to wait before retrying. */
export const shedRetryAfterSeconds = 1;

/** A refusal and the headers to send with it. */
export interface GateRefusal {
  readonly error: ConnectError;
  readonly headers: Record<string, string>;
}

/** The shed check, done before anything else; `random` is injectable for tests. */
export function shedRefusal(state: KillSwitchState, routeClass: RouteClass, random: () => number = Math.random): GateRefusal | undefined {
  const share = state.shed.get(routeClass);
  if (!share || random() >= share) return undefined;
  return {
    error: new ConnectError(`overloaded: ${Math.round(share * 100)}% of ${routeClass} requests are shed for now; retry shortly`, Code.Unavailable),
    headers: { "retry-after": String(shedRetryAfterSeconds) },
  };
}

/** The method, read-only, upload and freeze checks, once the user is known. */
export function switchRefusal(state: KillSwitchState, method: string, routeClass: RouteClass, userId: bigint | null): GateRefusal | undefined {
  if (state === noSwitches) return undefined;
  const refuse = (message: string, code = Code.Unavailable): GateRefusal => ({ error: new ConnectError(message, code), headers: {} });
  if (methodDisabled(state, method)) return refuse(`${method} is switched off by an operator`);
  const writes = routeClass === "write" || routeClass === "upload";
  if (writes && userId !== null && state.frozenUsers.has(userId.toString())) return refuse("this account's writes are frozen by an operator", Code.PermissionDenied);
  if (writes && state.readOnly) return refuse("Oasis is in read-only mode: writes are refused for now");
  if (routeClass === "upload" && state.disableUploads) return refuse("uploads are switched off for now");
  return undefined;
}
