/** The end user's IP for the sign-in throttle, shared by the routes that check a password. */
import type { HandlerContext } from "@connectrpc/connect";
import { clientIpHeader, currentCaller } from "#kit/call-context.ts";

/**
 * The end user's IP as the edge saw it. Trusted only on calls with a valid mesh
 * credential (the edge sets it); a call without one is throttled as one "direct" client.
 */
export function clientIp(handler: HandlerContext): string {
  const ip = currentCaller().fromMesh ? handler.requestHeader.get(clientIpHeader) : null;
  return ip && ip.length <= 64 ? ip : "direct";
}
