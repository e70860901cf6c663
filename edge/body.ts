/**
 * Request bodies with a size limit enforced while reading: a Content-Length over the
 * limit is refused before any byte is read, and a chunked body is cut off as soon as it
 * passes the limit, so a client cannot make the edge buffer more than `maxBytes`.
 */
import { Code, ConnectError } from "@connectrpc/connect";

/** A body over the limit: `resource_exhausted`, sent as HTTP 413 Content Too Large. */
export class BodyTooLargeError extends ConnectError {
  constructor(readonly maxBytes: number) {
    super(`request body is larger than the limit of ${maxBytes} bytes`, Code.ResourceExhausted);
  }
}

/**
 * ConnectError's `instanceof` matches any ConnectError-shaped object (it works across
 * copies of the library), subclasses included, so test the prototype instead.
 */
export function isBodyTooLarge(err: unknown): err is BodyTooLargeError {
  return typeof err === "object" && err !== null && Object.getPrototypeOf(err) === BodyTooLargeError.prototype;
}

export function tooLarge(maxBytes: number): ConnectError {
  return new BodyTooLargeError(maxBytes);
}

/** Reads the whole body, at most `maxBytes`. */
export async function readBody(req: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  // With a declared length within the limit, Bun reads the body natively in one go;
  // only chunked bodies need the counting reader below.
  if (declared !== null) return new Uint8Array(await req.arrayBuffer());
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
