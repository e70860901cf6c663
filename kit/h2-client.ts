/**
 * The edge's upstream client: Connect protocol unary calls, binary Protobuf, over one
 * multiplexed HTTP/2 cleartext connection per upstream replica (node:http2).
 *
 * Written for the edge because it is its hot path (edge translation is ours to own):
 * measured on this box (bench/getprofile.ts), the general Connect-ES client spends
 * ~290 us CPU per call wrapping it in ReadableStreams and async iterables, a raw
 * HTTP/2 stream ~75 us, and the service answers an HTTP/2 call for ~150 us less CPU
 * than the same call over HTTP/1.1.
 *
 * Protocol (https://connectrpc.com/docs/protocol#unary-request): POST
 * `/<Service>/<Method>`, `content-type: application/proto`,
 * `connect-protocol-version: 1`, `connect-timeout-ms`; 200 with the message bytes, or a
 * non-200 with the JSON error `{code, message, details}`.
 *
 * Connection care (Bun's http2 client can hang on a session left idle): a PING every
 * 30 s on idle sessions with a 10 s answer deadline, a deadline on every stream, and a
 * new session after GOAWAY, close or error.
 */
import http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromHttpStatus, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";

const pingIntervalMs = 30_000;

const unsent = new WeakSet<object>();

/** True for a failure that happened before the request reached the server. */
export function neverSent(err: unknown): boolean {
  return typeof err === "object" && err !== null && unsent.has(err);
}

function unavailable(message: string, wasUnsent: boolean): ConnectError {
  const err = new ConnectError(message, Code.Unavailable);
  if (wasUnsent) unsent.add(err);
  return err;
}
const pingTimeoutMs = 10_000;

/**
 * Why a stream that emitted "end" did not deliver the whole answer, or undefined when it
 * did. Bun's http2 client ends a stream with the data received so far when the
 * connection drops mid-answer (the server was killed: `rstCode` is then set, e.g. 8
 * CANCEL, where a clean END_STREAM leaves it 0 or unset), so "end" alone does not mean
 * complete. A body whose length differs from the answer's `content-length` is cut short
 * too (RFC 9113 section 8.1.1: such a response is malformed).
 */
export function incompleteAnswer(rstCode: number | undefined, headers: http2.IncomingHttpHeaders, bodyBytes: number, method = "POST"): string | undefined {
  if (rstCode !== undefined && rstCode !== http2.constants.NGHTTP2_NO_ERROR) return `upstream reset the stream (code ${rstCode}) after ${bodyBytes} bytes`;
  const declared = headers["content-length"];
  // HEAD and 304 answers declare the length of a body they do not carry.
  const bodyless = method === "HEAD" || headers[":status"] === undefined || Number(headers[":status"]) === 304;
  if (!bodyless && typeof declared === "string" && declared !== "" && Number(declared) !== bodyBytes) {
    return `upstream answer cut short: ${bodyBytes} of ${declared} bytes`;
  }
  return undefined;
}

export class H2ConnectClient {
  private session: http2.ClientHttp2Session | undefined;
  private pinger: ReturnType<typeof setInterval> | undefined;
  private lastUse = 0;

  constructor(readonly baseUrl: string) {}

  private readonly connected = new WeakSet<http2.ClientHttp2Session>();

  /**
   * The session a call starts on (connect), its use noted for the idle ping; undefined
   * when no session can be made, after `reject` got `unavailable` (nothing was sent, so
   * the call may be retried elsewhere). Shared by `unary` and `request`.
   */
  private open(reject: (err: ConnectError) => void): http2.ClientHttp2Session | undefined {
    this.lastUse = Date.now();
    try {
      return this.connect();
    } catch (err) {
      reject(unavailable(`upstream unavailable: ${(err as Error).message}`, true));
      return undefined;
    }
  }

  private connect(): http2.ClientHttp2Session {
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const session = http2.connect(this.baseUrl);
    session.once("connect", () => this.connected.add(session));
    session.setMaxListeners?.(0);
    const drop = () => {
      if (this.session === session) this.session = undefined;
    };
    session.on("goaway", drop);
    session.on("close", drop);
    session.on("error", drop);
    // Errors surface on the streams; the session listener only keeps them from throwing.
    session.on("error", () => {});
    session.unref?.();
    this.session = session;
    if (!this.pinger) {
      this.pinger = setInterval(() => this.ping(), pingIntervalMs);
      this.pinger.unref?.();
    }
    return session;
  }

  private ping(): void {
    const s = this.session;
    if (!s || s.closed || s.destroyed || Date.now() - this.lastUse < pingIntervalMs) return;
    const timer = setTimeout(() => s.destroy(), pingTimeoutMs);
    try {
      s.ping((err) => {
        clearTimeout(timer);
        if (err) s.destroy();
      });
    } catch {
      clearTimeout(timer);
      s.destroy();
    }
  }

  /**
   * Calls one unary method; resolves to the response bytes or throws a ConnectError.
   * `onHeaders` hears the response headers of an answer (success or error) as they arrive.
   */
  unary(
    path: string,
    body: Uint8Array,
    headers: Record<string, string>,
    timeoutMs: number,
    signal?: AbortSignal,
    onHeaders?: (h: http2.IncomingHttpHeaders) => void,
  ): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const session = this.open(reject);
      if (!session) return;
      let settled = false;
      let status = 0;
      let responseHeaders: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/proto",
        "connect-protocol-version": "1",
        "connect-timeout-ms": String(timeoutMs),
        ...headers,
      });
      const finish = (err?: ConnectError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (err) {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          reject(err);
          return;
        }
        const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        const cut = status === 0 ? undefined : incompleteAnswer(stream.rstCode, responseHeaders, bytes.byteLength);
        if (cut) {
          // Sent and partly answered: not retried elsewhere (the call may have run).
          reject(unavailable(cut, false));
          return;
        }
        if (status === 200) {
          resolve(bytes);
          return;
        }
        if (status === 0) {
          // The stream ended without response headers: the replica went away mid-call.
          reject(unavailable("upstream closed the stream before answering", wasUnsent()));
          return;
        }
        const fallback = new ConnectError(`upstream answered HTTP ${status}`, codeFromHttpStatus(status));
        const meta = new Headers();
        for (const [k, v] of Object.entries(responseHeaders)) if (!k.startsWith(":") && typeof v === "string") meta.set(k, v);
        try {
          reject(errorFromJsonBytes(bytes, meta, fallback));
        } catch (err) {
          // errorFromJsonBytes throws its fallback when the body is not JSON.
          reject(ConnectError.from(err));
        }
      };
      const timer = setTimeout(() => finish(new ConnectError(`upstream deadline of ${timeoutMs} ms exceeded`, Code.DeadlineExceeded)), timeoutMs);
      const onAbort = () => finish(new ConnectError("client went away", Code.Canceled));
      signal?.addEventListener("abort", onAbort, { once: true });
      stream.on("response", (h) => {
        responseHeaders = h;
        status = Number(h[":status"]);
        onHeaders?.(h);
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => finish());
      // Not sent: the connection never opened, or the server refused the stream (GOAWAY,
      // RFC 9113 section 8.7: a refused stream was not processed).
      const wasUnsent = () => !this.connected.has(session) || stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
      stream.on("error", (err) => finish(unavailable(`upstream unavailable: ${err.message}`, wasUnsent())));
      stream.on("close", () => {
        if (!settled && status === 0) finish(unavailable("upstream closed the stream", wasUnsent()));
      });
      stream.end(body);
    });
  }

  /**
   * A plain HTTP/2 request on the same connection (media bytes). Resolves with the
   * status, headers and whole body; `unavailable` when the upstream cannot be reached
   * or the answer is cut short (connection dropped mid-body, or fewer bytes than its
   * content-length: incompleteAnswer), so a truncated body is never passed on as a 200.
   */
  request(method: string, path: string, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const session = this.open(reject);
      if (!session) return;
      let responseHeaders: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      const stream = session.request({ ":method": method, ":path": path, ...headers }, { endStream: true });
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(new ConnectError(`upstream deadline of ${timeoutMs} ms exceeded`, Code.DeadlineExceeded));
      }, timeoutMs);
      const wasUnsent = () => !this.connected.has(session) || stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
      stream.on("response", (h) => (responseHeaders = h));
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        // A dropped connection also ends the stream: never pass a cut-off body on as an answer.
        const cut = incompleteAnswer(stream.rstCode, responseHeaders, body.byteLength, method);
        if (cut) reject(unavailable(cut, responseHeaders[":status"] === undefined && wasUnsent()));
        else resolve({ status: Number(responseHeaders[":status"] ?? 502), headers: responseHeaders, body });
      });
      stream.on("error", (err) => {
        clearTimeout(timer);
        reject(unavailable(`upstream unavailable: ${err.message}`, wasUnsent()));
      });
    });
  }

  close(): void {
    if (this.pinger) clearInterval(this.pinger);
    this.session?.close();
  }
}
