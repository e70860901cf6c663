/**
 * Short-lived signed URLs for private bytes: `<path>?exp=<unix seconds>&sig=<mac>`,
 * where mac = base64url(HMAC-SHA256(key, "<path>\n<exp>")) (the scheme of S3 and
 * CloudFront presigned URLs, reduced to a path and an expiry). Whoever holds the key
 * signs; whoever serves the bytes verifies. A URL opens exactly the path it was made
 * for, until `exp`; changing any character of path, exp or sig makes it fail.
 *
 * The key comes from the environment (OASIS_MEDIA_URL_KEY): there is no default, so a
 * deployment without one serves no private bytes at all.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

function mac(key: string, path: string, exp: number): Buffer {
  return createHmac("sha256", key).update(`${path}\n${exp}`).digest();
}

/** `path` signed until `expiresAtSeconds` (unix time, seconds). */
export function signPath(key: string, path: string, expiresAtSeconds: number): string {
  const exp = Math.floor(expiresAtSeconds);
  return `${path}?exp=${exp}&sig=${mac(key, path, exp).toString("base64url")}`;
}

/**
 * Whether `query` (the URL's search params) carries a valid, unexpired signature for
 * `path`. Constant-time compare; false for a missing key, a missing, malformed or
 * altered `exp`/`sig`, or `exp` at or before `nowSeconds`.
 */
export function verifySignedPath(key: string | undefined, path: string, query: URLSearchParams, nowSeconds = Date.now() / 1000): boolean {
  if (!key) return false;
  const expRaw = query.get("exp") ?? "";
  const sigRaw = query.get("sig") ?? "";
  if (!/^[0-9]{1,12}$/.test(expRaw) || !/^[A-Za-z0-9_-]{43}$/.test(sigRaw)) return false;
  const exp = Number(expRaw);
  if (exp <= nowSeconds) return false;
  const want = mac(key, path, exp);
  const got = Buffer.from(sigRaw, "base64url");
  return got.length === want.length && timingSafeEqual(got, want);
}
