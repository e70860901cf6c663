/** The signed-in caller of the current RPC (every notification RPC is ACCESS_USER). */
import type { HandlerContext } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";

export const callerId = (handler?: HandlerContext): bigint => currentCaller(handler).userId!;
