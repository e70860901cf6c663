/**
 * Opaque keyset page tokens (AIP-158): the token is the sort key of the last item
 * returned, so the next page is `WHERE key < :last ORDER BY key DESC LIMIT n` and never
 * an OFFSET scan. Tokens are base64url JSON with a version and a `scope` (usually the
 * list's parameters) so a token from one list cannot be replayed on another; a token
 * that does not decode is `invalid_argument` on field `page_token`.
 */
import { invalidArgument } from "./errors.ts";

type KeyPart = string | number | bigint;

interface Wire {
  v: 1;
  s: string;
  k: Array<string | number>;
}

/** Encodes the last item's sort key. bigint parts survive as strings. */
export function encodePageToken(scope: string, key: readonly KeyPart[]): string {
  const wire: Wire = { v: 1, s: scope, k: key.map((p) => (typeof p === "bigint" ? `n${p}` : typeof p === "string" ? `s${p}` : p)) };
  return Buffer.from(JSON.stringify(wire)).toString("base64url");
}

/**
 * Decodes a token made by encodePageToken for the same scope. Returns undefined for
 * an empty token (first page). Throws `invalid_argument` for anything else that does
 * not match.
 */
export function decodePageToken(scope: string, token: string, field = "page_token"): KeyPart[] | undefined {
  if (!token) return undefined;
  try {
    const wire = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Wire;
    if (wire.v !== 1 || wire.s !== scope || !Array.isArray(wire.k)) throw new Error("mismatch");
    return wire.k.map((p) => {
      if (typeof p === "number") return p;
      if (typeof p === "string" && p.startsWith("n")) return BigInt(p.slice(1));
      if (typeof p === "string" && p.startsWith("s")) return p.slice(1);
      throw new Error("bad part");
    });
  } catch {
    throw invalidArgument([{ field, description: "page token is not valid for this request" }]);
  }
}

/**
 * Clamps a requested page size: 0 means the default; larger than max is reduced to max
 * (AIP-158 says coerce, not reject); negative is rejected.
 */
export function pageSize(requested: number, defaultSize: number, maxSize: number, field = "page_size"): number {
  if (requested < 0) throw invalidArgument([{ field, description: "must be >= 0" }]);
  if (requested === 0) return defaultSize;
  return Math.min(requested, maxSize);
}
