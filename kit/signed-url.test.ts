/** Signed URLs: a URL opens exactly its path until its expiry; any change or no key fails. */
import { expect, test } from "bun:test";
import { signPath, verifySignedPath } from "./signed-url.ts";

const key = "k".repeat(43);
const check = (url: string, now: number, k: string | undefined = key) => {
  const [path, query = ""] = url.split("?") as [string, string?];
  return verifySignedPath(k, path, new URLSearchParams(query), now);
};

test("valid until exp; altered path, exp or sig, another key, or no key fail", () => {
  const url = signPath(key, "/media/42/feed", 1_000);
  expect(check(url, 999)).toBe(true);
  expect(check(url, 1_000)).toBe(false);
  expect(check(url.replace("/42/", "/43/"), 999)).toBe(false);
  expect(check(url.replace("/feed", "/orig"), 999)).toBe(false);
  expect(check(url.replace("exp=1000", "exp=1001"), 999)).toBe(false);
  const sig = new URLSearchParams(url.split("?")[1]).get("sig")!;
  expect(check(url.replace(sig, (sig[0] === "A" ? "B" : "A") + sig.slice(1)), 999)).toBe(false);
  expect(check(url, 999, "another key")).toBe(false);
  expect(verifySignedPath(undefined, "/media/42/feed", new URLSearchParams(url.split("?")[1]), 999)).toBe(false);
  expect(check("/media/42/feed", 999)).toBe(false);
});
