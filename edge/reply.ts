/**
 * What an edge handler produces before the common response steps (request id, CORS,
 * compression, metrics) turn it into a Response.
 */
export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string | Uint8Array | ReadableStream<Uint8Array> | null;
  /** JSON (or other text) worth compressing for clients that accept it. */
  readonly compressible?: boolean;
}

/** A JSON reply: text, or its UTF-8 bytes. */
export function jsonReply(status: number, value: string | Uint8Array, headers: Record<string, string> = {}): Reply {
  return { status, headers: { "content-type": "application/json", ...headers }, body: value, compressible: true };
}
