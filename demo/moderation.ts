/**
 * The demo's moderation: a `moderator` account with a password generated for this run
 * (printed once, never stored), granted the moderator role by the run's admin through
 * identity's GrantRole, and a few Reed98 members reporting posts from their home feeds,
 * so the workbench has tickets to claim. Everything goes through the edge, as an app and
 * an operator would.
 */
import { randomBytes } from "node:crypto";
import { demoGraph, demoPassword } from "./users.ts";

async function call(edgeUrl: string, method: string, path: string, body?: unknown, token?: string): Promise<any> {
  const res = await fetch(`${edgeUrl}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const json = (await res.json()) as any;
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

export interface DemoModeration {
  readonly handle: string;
  readonly password: string;
  readonly reports: number;
  readonly tickets: number;
}

/** Reasons the demo's reporters give, in turn (the API's ReasonType names). */
const reasons = ["REASON_TYPE_SPAM", "REASON_TYPE_RUDE", "REASON_TYPE_MISLEADING"];

/**
 * Creates the moderator (as `adminToken`'s admin) and files reports: each of the first
 * `reporters` members who has posts in their home feed reports the first `perReporter`.
 */
export async function seedModeration(edgeUrl: string, adminToken: string, reporters = 5, perReporter = 2): Promise<DemoModeration> {
  const handle = "moderator";
  const password = randomBytes(12).toString("base64url");
  await call(edgeUrl, "POST", "/v1/accounts", { handle, email: "moderator@demo.invalid", password });
  await call(edgeUrl, "POST", "/v1/roles:grant", { handle, role: "moderator" }, adminToken);
  let reports = 0;
  const tickets = new Set<string>();
  for (const u of demoGraph().users) {
    if (reports >= reporters * perReporter) break;
    const { accessToken } = await call(edgeUrl, "POST", "/v1/sessions", { login: u.handle, password: demoPassword });
    const home = await call(edgeUrl, "GET", "/v1/feeds/home?page_size=10", undefined, accessToken);
    for (const item of (home.items ?? []).slice(0, perReporter)) {
      const r = await call(
        edgeUrl,
        "POST",
        "/v1/reports",
        { subject: { type: "SUBJECT_TYPE_POST", id: item.post.postId }, reasonType: reasons[reports % reasons.length], reasonText: "reported in the demo" },
        accessToken,
      );
      tickets.add(r.report.ticketId);
      reports++;
    }
  }
  return { handle, password, reports, tickets: tickets.size };
}
