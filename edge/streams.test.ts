/**
 * A live stream through the edge ends when its access token expires (issue 14): the
 * app must reconnect with a fresh token, so a stream never outlives the credential that
 * opened it. The token here expires 3 s after it is minted, signed with identity's
 * current key, which the test opens with the run's KEK exactly as identity does.
 * (Rate limit, per-user cap and revocation: services/notification/notification.test.ts.)
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mintAccessToken } from "../testbeds/identity-tokens.ts";
import { startSocialTestbed, type SocialTestbed } from "../testbeds/social.ts";
import { readEdges } from "../demo/data.ts";

let bed: SocialTestbed;
const member = [...new Set(readEdges().flat())][70]!;
let userId: bigint;

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "notification"]);
  [userId] = (await bed.users([member])) as [bigint];
}, 300_000);
afterAll(() => bed?.stop());

/** An access token for `userId` that expires in `seconds`, signed with identity's current key. */
function shortLivedToken(seconds: number): Promise<string> {
  return mintAccessToken(bed.mesh, userId, `reed_${member}`, seconds);
}

test("an SSE stream ends with an error event when its access token expires", async () => {
  const token = await shortLivedToken(3);
  const openedAt = performance.now();
  const res = await fetch(`${bed.mesh.url("edge")}/v1/notifications:stream`, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } });
  expect(res.status).toBe(200);
  const text = await res.text(); // resolves only when the server ends the stream
  const ms = performance.now() - openedAt;
  console.log(`stream ended ${ms.toFixed(0)} ms after it was requested (token minted with 3 s to live)`);
  expect(text).toContain("event: error");
  expect(text).toContain("expired");
  // The expired token opens nothing.
  expect((await fetch(`${bed.mesh.url("edge")}/v1/notifications:stream`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
});
