/**
 * Request bodies with a size limit enforced while reading: a Content-Length over the
 * limit is refused before any byte is read, and a chunked body is cut off as soon as it
 * passes the limit, so a client cannot make the edge buffer more than `maxBytes`.
 */
import type { ConnectError } from "@connectrpc/connect";
import { invalidArgument } from "#kit/errors.ts";

/**
 * A body over the limit is bad input like any other: `invalid_argument` (HTTP 400) with
 * a BadRequest violation on `body` that states the limit, so the app shows the same kind
 * of error for a too-long bio and a too-large request (foundation issue: "a 2 MB body
 * ... gets a clear 400 with the field named"), rather than a bare 413.
 */
export function tooLarge(maxBytes: number): ConnectError {
  return invalidArgument(
    [{ field: "body", description: `request body is larger than the limit of ${maxBytes} bytes`, reason: "body.max_bytes" }],
    `request body is larger than the limit of ${maxBytes} bytes`,
  );
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
