/**
 * IdentityService against real MariaDB, Redis and NATS, served on a random port in its
 * own namespace. Users are Reed98 graph members; bios are real quotations.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLocalJWKSet, jwtVerify } from "jose";
import { RetryInfoSchema } from "#gen/google/rpc/error_details_pb.ts";
import { ProfileUpdatedSchema, type ProfileUpdated } from "#gen/oasis/identity/v1/events_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { connectBus } from "#kit/bus.ts";
import { on, startConsumer } from "#kit/consumer.ts";
import { errorReason, violatedFields } from "#kit/errors.ts";
import { createLogger } from "#kit/logger.ts";
import { select } from "#kit/mysql.ts";
import { startTestApp, type TestApp } from "#kit/testing/app.ts";
import { until } from "#kit/testing/until.ts";
import { readEdges, readFortunes } from "../../demo/data.ts";
import { createIdentityApp, jwksPath } from "./app.ts";
import { loadIdentityConfig, type IdentityConfig } from "./config.ts";

let svc: TestApp<IdentityConfig>;
const quotes = readFortunes("en-people.fortune");
// The first Reed98 members in file order: real ids from the real graph.
const members = [...new Set(readEdges().flat())].slice(0, 12);

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

beforeAll(async () => {
  svc = await startTestApp(createIdentityApp, loadIdentityConfig, {
    env: { OASIS_IDENTITY_LOGIN_MAX_FAILURES: "3", OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "4096" },
  });
});
afterAll(() => svc?.stop());

const handleOf = (n: number) => `Reed_${n}`;

describe("CreateAccount", () => {
  test("creates, lowercases handle and e-mail, and replays the same request_id", async () => {
    const c = svc.client(IdentityService);
    const n = members[0]!;
    const req = { handle: handleOf(n), email: `Member${n}@Reed.example`, password: "correct horse battery", requestId: `acct-${n}` };
    const first = await c.createAccount(req);
    expect(first.account?.handle).toBe(`reed_${n}`);
    expect(first.account?.email).toBe(`member${n}@reed.example`);
    expect(first.account!.userId > 0n).toBe(true);
    const again = await c.createAccount(req);
    expect(again.account?.userId).toBe(first.account!.userId);
    const reused = await failure(c.createAccount({ ...req, email: "other@reed.example" }));
    expect(reused.code).toBe(Code.InvalidArgument);
    expect(violatedFields(reused)).toEqual(["request_id"]);
  });

  test("handles are unique case-insensitively; e-mails too", async () => {
    const c = svc.client(IdentityService);
    const n = members[1]!;
    await c.createAccount({ handle: handleOf(n), email: `m${n}@reed.example`, password: "correct horse battery" });
    const dupHandle = await failure(c.createAccount({ handle: handleOf(n).toUpperCase(), email: `x${n}@reed.example`, password: "correct horse battery" }));
    expect(dupHandle.code).toBe(Code.AlreadyExists);
    expect(errorReason(dupHandle)).toBe("HANDLE_TAKEN");
    const dupEmail = await failure(c.createAccount({ handle: `other_${n}`, email: `M${n}@reed.example`, password: "correct horse battery" }));
    expect(errorReason(dupEmail)).toBe("EMAIL_TAKEN");
  });

  test("bad input names every bad field", async () => {
    const err = await failure(svc.client(IdentityService).createAccount({ handle: "a!", email: "not-an-email", password: "short" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err).sort()).toEqual(["email", "handle", "password"]);
  });
});

describe("sessions", () => {
  const n = members[2]!;
  const password = "tang poems and song lyrics";
  let userId: bigint;
  beforeAll(async () => {
    const r = await svc.client(IdentityService).createAccount({ handle: handleOf(n), email: `s${n}@reed.example`, password });
    userId = r.account!.userId;
  });

  test("logs in by handle or e-mail; the access token verifies with the published JWKS", async () => {
    const c = svc.client(IdentityService);
    const byHandle = await c.createSession({ login: handleOf(n), password });
    const byEmail = await c.createSession({ login: `S${n}@reed.example`, password });
    expect(byHandle.userId).toBe(userId);
    expect(byEmail.userId).toBe(userId);
    const jwks = (await (await fetch(`${svc.url}${jwksPath}`)).json()) as { keys: never[] };
    const { payload, protectedHeader } = await jwtVerify(byHandle.accessToken, createLocalJWKSet(jwks), {
      issuer: "oasis.identity",
      audience: "oasis",
    });
    expect(protectedHeader.alg).toBe("EdDSA");
    expect(payload.sub).toBe(String(userId));
    const ttl = Number(byHandle.expiresAt!.seconds) - Math.floor(Date.now() / 1000);
    expect(ttl).toBeGreaterThan(800);
    expect(ttl).toBeLessThanOrEqual(900);
  });

  test("refresh rotates; replaying an old refresh token revokes the session", async () => {
    const c = svc.client(IdentityService);
    const s = await c.createSession({ login: handleOf(n), password });
    const r1 = await c.refreshSession({ refreshToken: s.refreshToken });
    expect(r1.refreshToken).not.toBe(s.refreshToken);
    const replay = await failure(c.refreshSession({ refreshToken: s.refreshToken }));
    expect(errorReason(replay)).toBe("REFRESH_TOKEN_REUSED");
    // The session is gone for the legitimate holder too.
    expect(errorReason(await failure(c.refreshSession({ refreshToken: r1.refreshToken })))).toBe("REFRESH_TOKEN_INVALID");
  });

  test("revoke ends a session", async () => {
    const c = svc.client(IdentityService);
    const s = await c.createSession({ login: handleOf(n), password });
    await c.revokeSession({ refreshToken: s.refreshToken });
    expect(errorReason(await failure(c.refreshSession({ refreshToken: s.refreshToken })))).toBe("REFRESH_TOKEN_INVALID");
    expect(errorReason(await failure(c.revokeSession({ refreshToken: `${s.refreshToken.split(".")[0]}.${"A".repeat(43)}` })))).toBe(
      "REFRESH_TOKEN_INVALID",
    );
  });

  test("wrong passwords are throttled per account with a retry delay", async () => {
    const c = svc.client(IdentityService);
    const m = members[3]!;
    await c.createAccount({ handle: handleOf(m), email: `t${m}@reed.example`, password });
    for (let i = 0; i < 3; i++) {
      expect(errorReason(await failure(c.createSession({ login: handleOf(m), password: "wrong password" })))).toBe("INVALID_CREDENTIALS");
    }
    const throttled = await failure(c.createSession({ login: handleOf(m), password }));
    expect(throttled.code).toBe(Code.ResourceExhausted);
    expect(errorReason(throttled)).toBe("LOGIN_THROTTLED");
    const retry = throttled.findDetails(RetryInfoSchema)[0];
    expect(Number(retry?.retryDelay?.seconds)).toBeGreaterThan(0);
    // An unknown login fails the same way as a wrong password.
    expect(errorReason(await failure(c.createSession({ login: "nobody_here", password })))).toBe("INVALID_CREDENTIALS");
  });
});

describe("profiles", () => {
  let alice: bigint;
  let bob: bigint;
  beforeAll(async () => {
    const c = svc.client(IdentityService);
    alice = (await c.createAccount({ handle: handleOf(members[4]!), email: `p${members[4]}@reed.example`, password: "correct horse battery" })).account!.userId;
    bob = (await c.createAccount({ handle: handleOf(members[5]!), email: `p${members[5]}@reed.example`, password: "correct horse battery" })).account!.userId;
  });

  test("the owner updates only the masked fields; others cannot", async () => {
    const asAlice = svc.client(IdentityService, alice);
    const bio = quotes[0]!.slice(0, 300);
    const res = await asAlice.updateProfile({
      profile: { userId: alice, bio, displayName: "ignored, not in mask", fields: [{ key: "Pronouns", value: "she/her" }] },
      updateMask: { paths: ["bio", "fields"] },
    });
    expect(res.profile?.bio).toBe(bio);
    expect(res.profile?.displayName).toBe(`reed_${members[4]}`);
    expect(res.profile?.fields).toHaveLength(1);

    const asBob = svc.client(IdentityService, bob);
    const denied = await failure(asBob.updateProfile({ profile: { userId: alice, bio: "hacked" }, updateMask: { paths: ["bio"] } }));
    expect(denied.code).toBe(Code.PermissionDenied);
    expect(errorReason(denied)).toBe("NOT_PROFILE_OWNER");

    const anon = await failure(svc.client(IdentityService).updateProfile({ profile: { userId: alice }, updateMask: { paths: ["bio"] } }));
    expect(anon.code).toBe(Code.Unauthenticated);
  });

  test("update_mask and field rules are enforced", async () => {
    const asAlice = svc.client(IdentityService, alice);
    const badPath = await failure(asAlice.updateProfile({ profile: { userId: alice }, updateMask: { paths: ["handle"] } }));
    expect(errorReason(badPath)).toBe("FIELD_NOT_UPDATABLE");
    const dup = await failure(
      asAlice.updateProfile({
        profile: { userId: alice, fields: [{ key: "Web", value: "a" }, { key: "web", value: "b" }] },
        updateMask: { paths: ["fields"] },
      }),
    );
    expect(errorReason(dup)).toBe("DUPLICATE_FIELD_KEY");
    expect(violatedFields(dup)).toContain("profile.fields[1].key");
    const tooLong = await failure(asAlice.updateProfile({ profile: { userId: alice, displayName: "x".repeat(65) }, updateMask: { paths: ["display_name"] } }));
    expect(violatedFields(tooLong)).toEqual(["profile.display_name"]);
  });

  test("private profiles need a signed-in caller; batch reads keep request order", async () => {
    const asBob = svc.client(IdentityService, bob);
    await asBob.updateProfile({ profile: { userId: bob, private: true }, updateMask: { paths: ["private"] } });
    const anon = svc.client(IdentityService);
    expect(errorReason(await failure(anon.getProfile({ lookup: { case: "userId", value: bob } })))).toBe("PROFILE_PRIVATE");
    expect((await anon.getProfile({ lookup: { case: "userId", value: alice } })).profile?.userId).toBe(alice);
    const viaHandle = await svc.client(IdentityService, alice).getProfile({ lookup: { case: "handle", value: handleOf(members[5]!) } });
    expect(viaHandle.profile?.private).toBe(true);

    const anonBatch = await anon.batchGetProfiles({ userIds: [bob, alice, alice, 42n] });
    expect(anonBatch.profiles.map((p) => p.userId)).toEqual([alice]);
    const batch = await svc.client(IdentityService, alice).batchGetProfiles({ userIds: [bob, alice, 42n] });
    expect(batch.profiles.map((p) => p.userId)).toEqual([bob, alice]);
    expect(errorReason(await failure(anon.getProfile({ lookup: { case: "userId", value: 42n } })))).toBe("ACCOUNT_NOT_FOUND");
  });
});

describe("events", () => {
  test("UpdateProfile emits profile_updated through the outbox with the new profile and the mask; a refused update emits none", async () => {
    const log = createLogger("identity-test", "silent");
    const bus = await connectBus({ url: svc.config.natsUrl, namespace: svc.namespace, name: "identity-test", log });
    const seen: ProfileUpdated[] = [];
    const consumer = await startConsumer({
      bus,
      log,
      name: "identity-test-profile-updated",
      deliver: "new",
      handlers: [on(ProfileUpdatedSchema, async (event) => void seen.push(event))],
    });
    try {
      const c = svc.client(IdentityService);
      const carol = (await c.createAccount({ handle: handleOf(members[6]!), email: `p${members[6]}@reed.example`, password: "correct horse battery" })).account!.userId;
      const asCarol = svc.client(IdentityService, carol);
      const bio = quotes[1]!.slice(0, 200);
      await failure(asCarol.updateProfile({ profile: { userId: carol, displayName: "x".repeat(65) }, updateMask: { paths: ["display_name"] } }));
      await asCarol.updateProfile({ profile: { userId: carol, bio, displayName: "Carol" }, updateMask: { paths: ["bio", "display_name"] } });
      const mine = await until(
        async () => seen.filter((e) => e.profile?.userId === carol),
        (l) => l.length > 0,
      );
      // No sleep to see whether a second event turns up: an event from the refused update
      // would have been written before this one, and the relay publishes the outbox in id
      // order, which the consumer receives in stream order; and nothing is left unsent.
      const unsent = async () => Number((await select<{ n: number | string }>(svc.app.runtime.db, "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL"))[0]!.n);
      expect(await until(unsent, (n) => n === 0)).toBe(0);
      expect(mine).toHaveLength(1);
      expect(mine[0]!.profile?.bio).toBe(bio);
      expect(mine[0]!.profile?.displayName).toBe("Carol");
      expect([...mine[0]!.updateMask!.paths].sort()).toEqual(["bio", "display_name"]);
    } finally {
      await consumer.stop();
      await bus.close();
    }
  });
});

describe("mesh credential", () => {
  test("a forged caller assertion is refused, not treated as anonymous", async () => {
    const res = await fetch(`${svc.url}/oasis.identity.v1.IdentityService/GetProfile`, {
      method: "POST",
      headers: { "content-type": "application/json", "oasis-caller": "v1.1.9999999999999.AAAA" },
      body: JSON.stringify({ handle: handleOf(members[4]!) }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe("unauthenticated");
  });
});
