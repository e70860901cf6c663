/**
 * PageReuse (reuse.ts): a kept page comes back only for the same key and a reply equal
 * byte for byte, is not touched by later changes to the buffers it was given, and the
 * least recently used entries go first when the count or the bytes are over the bound.
 */
import { expect, test } from "bun:test";
import { PageReuse } from "./reuse.ts";

const reply = (s: string) => Buffer.from(s);
const page = (s: string) => new Uint8Array(Buffer.from(s));

test("a page comes back for the same key and an equal reply only", () => {
  const r = new PageReuse(10);
  expect(r.get("ht:1:1:10:", reply("3,2;ok..."))).toBeUndefined();
  r.set("ht:1:1:10:", reply("3,2;ok..."), page("P1"));
  expect(Buffer.from(r.get("ht:1:1:10:", reply("3,2;ok..."))!).toString()).toBe("P1");
  // One byte differs, or it is longer: computed again.
  expect(r.get("ht:1:1:10:", reply("3,2;ok..,"))).toBeUndefined();
  expect(r.get("ht:1:1:10:", reply("3,2;ok...."))).toBeUndefined();
  // Another request with the same reply: not this page.
  expect(r.get("ht:1:2:10:", reply("3,2;ok..."))).toBeUndefined();
  expect([r.hits, r.misses]).toEqual([1, 4]);
});

test("what it keeps are copies: the caller's buffers may be reused", () => {
  const r = new PageReuse(10);
  const raw = reply("2;ok");
  const bytes = page("P");
  r.set("k", raw, bytes);
  raw[0] = 0x39;
  bytes[0] = 0x51;
  expect(Buffer.from(r.get("k", reply("2;ok"))!).toString()).toBe("P");
});

test("a new reply for a key replaces its page", () => {
  const r = new PageReuse(10);
  r.set("k", reply("a"), page("A"));
  r.set("k", reply("b"), page("B"));
  expect(r.get("k", reply("a"))).toBeUndefined();
  expect(Buffer.from(r.get("k", reply("b"))!).toString()).toBe("B");
  expect(r.size).toBe(1);
});

test("the least recently used go first, by count and by bytes", () => {
  const r = new PageReuse(2);
  r.set("a", reply("1"), page("A"));
  r.set("b", reply("2"), page("B"));
  r.get("a", reply("1"));
  r.set("c", reply("3"), page("C"));
  expect(r.get("b", reply("2"))).toBeUndefined();
  expect(r.get("a", reply("1"))).toBeDefined();
  expect(r.get("c", reply("3"))).toBeDefined();

  // 100 bytes at most: two entries of ~40 bytes fit, a third pushes the oldest out.
  const small = new PageReuse(100, 100);
  small.set("x", Buffer.alloc(20), new Uint8Array(18));
  small.set("y", Buffer.alloc(20), new Uint8Array(18));
  expect(small.size).toBe(2);
  small.set("z", Buffer.alloc(20), new Uint8Array(18));
  expect(small.size).toBe(2);
  expect(small.get("x", Buffer.alloc(20))).toBeUndefined();

  const off = new PageReuse(0);
  off.set("a", reply("1"), page("A"));
  expect(off.size).toBe(0);
});
