/** Unit tests of the kit's pure parts: ids, page tokens, caller assertions, errors, SQL splitting. */
import { describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorReason, ErrorReasonSchema } from "#gen/oasis/identity/v1/errors_pb.ts";
import { signCaller, verifyCaller } from "./auth.ts";
import { domainErrors, errorReason, reasonName, violatedFields } from "./errors.ts";
import { createIdGenerator, idTimeMs, minIdAt, oasisEpochMs } from "./ids.ts";
import { splitStatements } from "./mysql.ts";
import { decodePageToken, encodePageToken, pageSize } from "./page-token.ts";
import { parseTraceparent } from "./call-context.ts";

describe("ids", () => {
  test("strictly increasing, time-ordered, 64-bit, and unique across workers", () => {
    let now = oasisEpochMs + 1_000;
    const a = createIdGenerator(1, () => now);
    const b = createIdGenerator(2, () => now);
    const seen = new Set<bigint>();
    let last = 0n;
    for (let i = 0; i < 10_000; i++) {
      const id = a.next();
      expect(id > last).toBe(true);
      last = id;
      seen.add(id);
      seen.add(b.next());
    }
    expect(seen.size).toBe(20_000);
    expect(idTimeMs(last)).toBeGreaterThanOrEqual(now);
    now -= 500; // the clock steps back: still increasing
    expect(a.next() > last).toBe(true);
    expect(minIdAt(oasisEpochMs + 5_000) < createIdGenerator(0, () => oasisEpochMs + 5_000).next() + 1n).toBe(true);
    expect(() => createIdGenerator(1024)).toThrow();
  });
});

describe("page tokens", () => {
  test("round-trip, scoped, and reject garbage with invalid_argument on page_token", () => {
    const t = encodePageToken("followers:42", [123456789012345678n, "x", 7]);
    expect(decodePageToken("followers:42", t)).toEqual([123456789012345678n, "x", 7]);
    expect(decodePageToken("followers:42", "")).toBeUndefined();
    for (const bad of [t.slice(0, -3), "not-a-token", encodePageToken("following:42", [1n])]) {
      let err: unknown;
      try {
        decodePageToken("followers:42", bad);
      } catch (e) {
        err = e;
      }
      expect(ConnectError.from(err).code).toBe(Code.InvalidArgument);
      expect(violatedFields(err)).toEqual(["page_token"]);
    }
    expect(pageSize(0, 50, 1000)).toBe(50);
    expect(pageSize(5000, 50, 1000)).toBe(1000);
    expect(() => pageSize(-1, 50, 1000)).toThrow();
  });
});

describe("caller assertions", () => {
  test("verify only what the mesh signed, and only until it expires", () => {
    const secret = "s3cret";
    const v = signCaller(secret, 118840942673145856n, 1_000);
    expect(verifyCaller(secret, v, 2_000)).toEqual({ userId: 118840942673145856n, fromMesh: true, service: false });
    expect(verifyCaller(secret, signCaller(secret, null, 1_000), 2_000)).toEqual({ userId: null, fromMesh: true, service: false });
    expect(verifyCaller(secret, signCaller(secret, "service", 1_000), 2_000)).toEqual({ userId: null, fromMesh: true, service: true });
    expect(verifyCaller(secret, null)).toBeNull();
    expect(() => verifyCaller("other", v, 2_000)).toThrow("invalid mesh credential");
    expect(() => verifyCaller(secret, v.replace("118840942673145856", "1"), 2_000)).toThrow();
    expect(() => verifyCaller(secret, v, 1_000 + 121_000)).toThrow();
  });
});

describe("errors", () => {
  test("ErrorInfo carries the reason without its enum prefix and the domain", () => {
    expect(reasonName(ErrorReasonSchema, ErrorReason.HANDLE_TAKEN)).toBe("HANDLE_TAKEN");
    const errors = domainErrors<ErrorReason>("identity", ErrorReasonSchema);
    const err = errors.alreadyExists(ErrorReason.HANDLE_TAKEN, "taken", { handle: "reed_1" });
    expect(err.code).toBe(Code.AlreadyExists);
    expect(errorReason(err)).toBe("HANDLE_TAKEN");
  });
});

describe("traceparent", () => {
  test("parses version 00 and rejects all-zero ids", () => {
    expect(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toEqual({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      parentId: "00f067aa0ba902b7",
    });
    expect(parseTraceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01")).toBeUndefined();
    expect(parseTraceparent("garbage")).toBeUndefined();
  });
});

describe("migrations", () => {
  test("split into statements at line-ending semicolons, comments dropped", () => {
    const sql = "-- a table\nCREATE TABLE a (x INT);\n\n-- another\nCREATE TABLE b (\n  y VARCHAR(3) DEFAULT ';'\n);\n";
    expect(splitStatements(sql)).toEqual(["CREATE TABLE a (x INT)", "CREATE TABLE b (\n  y VARCHAR(3) DEFAULT ';'\n)"]);
  });
});
