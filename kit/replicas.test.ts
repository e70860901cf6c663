/**
 * The retry rule of mesh calls (kit/client.ts isRetryable) and the replica set that
 * applies it (kit/replicas.ts): a call is repeated only on `unavailable`, and only when
 * the method has no side effects, the request carries a request_id, or the failed
 * attempt provably never reached the replica. A write without a request_id is never
 * sent twice.
 */
import { describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  CreateAccountRequestSchema,
  IdentityService,
  UpdateProfileRequestSchema,
} from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { isRetryable } from "./client.ts";
import { ReplicaSet } from "./replicas.ts";

describe("isRetryable", () => {
  const m = IdentityService.method;
  test("side-effect-free methods are retryable whatever the request", () => {
    expect(isRetryable(m.getProfile, {})).toBe(true);
    expect(isRetryable(m.batchGetProfiles, {})).toBe(true);
  });
  test("a write is retryable only with a non-empty request_id", () => {
    expect(isRetryable(m.createAccount, create(CreateAccountRequestSchema, { handle: "reed_1", requestId: "signup-1" }))).toBe(true);
    expect(isRetryable(m.createAccount, create(CreateAccountRequestSchema, { handle: "reed_1" }))).toBe(false);
    expect(isRetryable(m.createAccount, { requestId: "" })).toBe(false);
  });
  test("a write without a request_id field is never retryable", () => {
    expect(isRetryable(m.updateProfile, create(UpdateProfileRequestSchema, {}))).toBe(false);
    expect(isRetryable(m.createSession, { login: "reed_1" })).toBe(false);
    expect(isRetryable(m.createSession, null)).toBe(false);
  });
});

/** A replica set over named replicas whose calls fail as `fail` says, logging every attempt. */
function replicas(names: string[], fail: (url: string, attempt: number) => ConnectError | undefined, notSent: Set<ConnectError> = new Set()) {
  const attempts: string[] = [];
  const set = new ReplicaSet(names, (url) => ({ url }), { ejectMs: 60_000 });
  const run = (retryable: boolean) =>
    set.run(
      retryable,
      undefined,
      async (client) => {
        attempts.push(client.url);
        const err = fail(client.url, attempts.length);
        if (err) throw err;
        return client.url;
      },
      (err) => notSent.has(err as ConnectError),
    );
  return { set, attempts, run };
}

describe("ReplicaSet.run", () => {
  test("a retryable call that meets `unavailable` is repeated on the other replica", async () => {
    const r = replicas(["a", "b"], (url) => (url === "a" ? new ConnectError("gone", Code.Unavailable) : undefined));
    // Whichever replica is picked first, the call ends on b, and a is tried at most once.
    expect(await r.run(true)).toBe("b");
    expect(r.attempts.filter((u) => u === "a").length).toBeLessThanOrEqual(1);
    expect(r.attempts.at(-1)).toBe("b");
  });

  test("a call that is not retryable is sent once, even on `unavailable`", async () => {
    const r = replicas(["a", "b"], () => new ConnectError("gone", Code.Unavailable));
    await expect(r.run(false)).rejects.toMatchObject({ code: Code.Unavailable });
    expect(r.attempts.length).toBe(1);
  });

  test("an `unavailable` that never reached the replica is resent even for a write", async () => {
    const refused = new ConnectError("connection refused", Code.Unavailable);
    const r = replicas(["a", "b"], (_url, n) => (n === 1 ? refused : undefined), new Set([refused]));
    expect(await r.run(false)).toBeDefined();
    expect(r.attempts.length).toBe(2);
    expect(r.attempts[0]).not.toBe(r.attempts[1]);
  });

  test("only `unavailable` is retried: other codes fail at once even when retryable", async () => {
    for (const code of [Code.Internal, Code.DeadlineExceeded, Code.ResourceExhausted, Code.Aborted, Code.Unknown, Code.NotFound]) {
      const r = replicas(["a", "b"], () => new ConnectError("no", code));
      await expect(r.run(true)).rejects.toMatchObject({ code });
      expect(r.attempts.length).toBe(1);
    }
  });

  test("at most three attempts in all", async () => {
    const r = replicas(["a", "b"], () => new ConnectError("gone", Code.Unavailable));
    await expect(r.run(true)).rejects.toMatchObject({ code: Code.Unavailable });
    expect(r.attempts.length).toBe(3);
  });

  test("a replica that failed with `unavailable` is ejected and skipped by later calls", async () => {
    const r = replicas(["a", "b"], (url) => (url === "a" ? new ConnectError("gone", Code.Unavailable) : undefined));
    for (let i = 0; i < 4; i++) await r.run(true);
    expect(r.set.states().find((s) => s.url === "a")!.ejected).toBe(true);
    const before = r.attempts.length;
    for (let i = 0; i < 10; i++) expect(await r.run(true)).toBe("b");
    expect(r.attempts.length - before).toBe(10);
  });
});
