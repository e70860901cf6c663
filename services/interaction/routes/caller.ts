/** The signed-in caller of the current RPC (the kit's access check guarantees one for ACCESS_USER methods). */
import type { HandlerContext } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";

export const callerId = (handler?: HandlerContext): bigint => currentCaller(handler).userId!;
