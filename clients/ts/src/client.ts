/**
 * The Oasis client: one typed Connect client per public service of the edge, over the
 * Connect protocol (`POST /<package>.<Service>/<Method>`, binary Protobuf by default, JSON
 * on request), with the signed-in session's bearer token on every call.
 *
 * Sessions: `signIn` calls IdentityService.CreateSession and keeps the access and
 * refresh tokens. Before a call whose access token expires within `refreshAheadMs`
 * (default 30 s), and once after a call the edge refused as `unauthenticated` (a token
 * that expired in flight), the client calls RefreshSession, one refresh at a time per
 * session, and retries the call with the new token. The retry is safe for writes too:
 * the edge checks the token before it forwards anything, so a refused call never ran.
 * A refresh the edge refuses (expired or revoked refresh token) ends the session:
 * `session` becomes undefined and the error reaches the caller.
 *
 * Errors are `ConnectError`s with the edge's code (`Code.NotFound`, ...); `errorReason`
 * reads the domain's ErrorReason name from its google.rpc.ErrorInfo detail.
 */
import { fromJson, type DescService } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.ts";
import { ChatService } from "./gen/oasis/chat/v1/chat_service_pb.ts";
import { FeedService } from "./gen/oasis/feed/v1/feed_service_pb.ts";
import { GraphService } from "./gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "./gen/oasis/identity/v1/identity_service_pb.ts";
import { InteractionService } from "./gen/oasis/interaction/v1/interaction_service_pb.ts";
import { ModerationService } from "./gen/oasis/moderation/v1/moderation_service_pb.ts";
import { MediaService, UploadMediaResponseSchema, type UploadMediaResponse } from "./gen/oasis/media/v1/media_service_pb.ts";
import { NotificationService } from "./gen/oasis/notification/v1/notification_service_pb.ts";
import { PostService } from "./gen/oasis/post/v1/post_service_pb.ts";
import { SearchService } from "./gen/oasis/search/v1/search_service_pb.ts";
import { WalletService } from "./gen/oasis/wallet/v1/wallet_service_pb.ts";

/** The services a client exposes, by property name. A new public service is one entry. */
export const services = {
  identity: IdentityService,
  graph: GraphService,
  post: PostService,
  feed: FeedService,
  interaction: InteractionService,
  media: MediaService,
  notification: NotificationService,
  search: SearchService,
  wallet: WalletService,
  chat: ChatService,
  moderation: ModerationService,
} as const satisfies Record<string, DescService>;

export type ServiceClients = { readonly [K in keyof typeof services]: Client<(typeof services)[K]> };

/** A signed-in session's tokens and their expiry times (ms since the epoch). */
export interface Session {
  readonly userId: bigint;
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresAtMs: number;
  readonly refreshExpiresAtMs: number;
}

export interface OasisClientOptions {
  /** The edge's base URL, e.g. `https://api.example.com` or `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  /** Deadline of each call in ms (sent as `Connect-Timeout-Ms`); default 30 000. */
  readonly timeoutMs?: number;
  /** JSON instead of binary Protobuf on the wire (easier to read in a proxy); default false. */
  readonly json?: boolean;
  /** Refresh the access token when it expires within this many ms; default 30 000. */
  readonly refreshAheadMs?: number;
  /** Called with the new tokens after every sign-in and refresh (to persist them). */
  readonly onSession?: (session: Session | undefined) => void;
  /** fetch to use (tests, custom agents); default globalThis.fetch. */
  readonly fetch?: typeof globalThis.fetch;
}

/** The ErrorReason name of an error from the edge (e.g. "ACCOUNT_NOT_FOUND"), if it has one. */
export function errorReason(err: unknown): string | undefined {
  return ConnectError.from(err).findDetails(ErrorInfoSchema)[0]?.reason || undefined;
}

export class OasisClient implements ServiceClients {
  readonly identity!: Client<typeof IdentityService>;
  readonly graph!: Client<typeof GraphService>;
  readonly post!: Client<typeof PostService>;
  readonly feed!: Client<typeof FeedService>;
  readonly interaction!: Client<typeof InteractionService>;
  readonly media!: Client<typeof MediaService>;
  readonly notification!: Client<typeof NotificationService>;
  readonly search!: Client<typeof SearchService>;
  readonly wallet!: Client<typeof WalletService>;
  readonly chat!: Client<typeof ChatService>;
  readonly moderation!: Client<typeof ModerationService>;

  #session: Session | undefined;
  #refreshing: Promise<Session> | undefined;
  readonly #opts: OasisClientOptions;
  readonly #fetch: typeof globalThis.fetch;
  /** Calls without a token (sign-in, refresh), so they never wait on a refresh. */
  readonly #anonymous: Client<typeof IdentityService>;

  constructor(opts: OasisClientOptions, session?: Session) {
    this.#opts = opts;
    this.#session = session;
    this.#fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    const transport = this.#transport([this.#auth()]);
    for (const [name, desc] of Object.entries(services)) (this as Record<string, unknown>)[name] = createClient(desc, transport);
    this.#anonymous = createClient(IdentityService, this.#transport([]));
  }

  /** The current session, or undefined when signed out. */
  get session(): Session | undefined {
    return this.#session;
  }

  /**
   * Signs in with a handle or email and password (IdentityService.CreateSession) and
   * uses the session for every later call. Errors: UNAUTHENTICATED (wrong login or
   * password), RESOURCE_EXHAUSTED (the edge's sign-in rate limit).
   */
  async signIn(login: string, password: string): Promise<Session> {
    const res = await this.#anonymous.createSession({ login, password }, { timeoutMs: this.#timeoutMs() });
    return this.#setSession({
      userId: res.userId,
      accessToken: res.accessToken,
      refreshToken: res.refreshToken,
      expiresAtMs: res.expiresAt ? timestampMs(res.expiresAt) : 0,
      refreshExpiresAtMs: res.refreshExpiresAt ? timestampMs(res.refreshExpiresAt) : 0,
    });
  }

  /** Revokes the session at the edge (RevokeSession) and forgets it. */
  async signOut(): Promise<void> {
    const s = this.#session;
    this.#setSession(undefined);
    if (s) await this.#anonymous.revokeSession({ refreshToken: s.refreshToken }, { timeoutMs: this.#timeoutMs() });
  }

  /**
   * Exchanges the refresh token for new tokens now (RefreshSession); concurrent calls
   * share one exchange. Errors: UNAUTHENTICATED when the refresh token expired or the
   * session was revoked (the session is then forgotten).
   */
  refresh(): Promise<Session> {
    const s = this.#session;
    if (!s) return Promise.reject(new ConnectError("not signed in", Code.Unauthenticated));
    this.#refreshing ??= (async () => {
      try {
        const res = await this.#anonymous.refreshSession({ refreshToken: s.refreshToken }, { timeoutMs: this.#timeoutMs() });
        return this.#setSession({
          userId: s.userId,
          accessToken: res.accessToken,
          refreshToken: res.refreshToken || s.refreshToken,
          expiresAtMs: res.expiresAt ? timestampMs(res.expiresAt) : 0,
          refreshExpiresAtMs: res.refreshExpiresAt ? timestampMs(res.refreshExpiresAt) : s.refreshExpiresAtMs,
        });
      } catch (err) {
        if (ConnectError.from(err).code === Code.Unauthenticated) this.#setSession(undefined);
        throw err;
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /**
   * Uploads an image to `POST /v1/media` (the edge's REST route; UploadMedia has no
   * Connect route at the edge) into `bucket` ("post-images", "chat-images", "avatars"),
   * idempotent by `idempotencyKey`. Errors as ConnectErrors: INVALID_ARGUMENT (not an
   * image the bucket accepts, over 25 MiB), UNAUTHENTICATED, RESOURCE_EXHAUSTED.
   */
  async upload(bucket: string, bytes: Uint8Array, contentType: string, idempotencyKey?: string): Promise<UploadMediaResponse> {
    const send = async () => {
      const token = await this.#freshToken();
      return this.#fetch(`${this.#opts.baseUrl}/v1/media?bucket=${encodeURIComponent(bucket)}`, {
        method: "POST",
        headers: { "content-type": contentType, ...(token ? { authorization: `Bearer ${token}` } : {}), ...(idempotencyKey ? { "idempotency-key": idempotencyKey } : {}) },
        body: bytes,
        signal: AbortSignal.timeout(this.#timeoutMs()),
      });
    };
    let res = await send();
    if (res.status === 401 && this.#session) {
      await this.refresh();
      res = await send();
    }
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) throw errorFromJson(res.status, body);
    return fromJson(UploadMediaResponseSchema, body as never, { ignoreUnknownFields: true });
  }

  #timeoutMs(): number {
    return this.#opts.timeoutMs ?? 30_000;
  }

  #transport(interceptors: Interceptor[]): Transport {
    return createConnectTransport({
      baseUrl: this.#opts.baseUrl,
      useBinaryFormat: !this.#opts.json,
      defaultTimeoutMs: this.#timeoutMs(),
      interceptors,
      fetch: this.#fetch,
    });
  }

  #setSession(s: Session | undefined): Session {
    this.#session = s;
    this.#opts.onSession?.(s);
    return s as Session;
  }

  /** The access token to send: refreshed first when it expires within refreshAheadMs. */
  async #freshToken(): Promise<string | undefined> {
    const s = this.#session;
    if (!s) return undefined;
    if (this.#refreshing) return (await this.#refreshing).accessToken;
    const ahead = this.#opts.refreshAheadMs ?? 30_000;
    if (s.expiresAtMs && s.expiresAtMs - Date.now() < ahead && s.refreshExpiresAtMs > Date.now()) return (await this.refresh()).accessToken;
    return s.accessToken;
  }

  /** Bearer token on every call; one refresh and retry after an `unauthenticated`. */
  #auth(): Interceptor {
    return (next) => async (req) => {
      const token = await this.#freshToken();
      if (token) req.header.set("authorization", `Bearer ${token}`);
      try {
        return await next(req);
      } catch (err) {
        if (!token || ConnectError.from(err).code !== Code.Unauthenticated || !this.#session) throw err;
        const renewed = token === this.#session.accessToken ? await this.refresh() : this.#session;
        req.header.set("authorization", `Bearer ${renewed.accessToken}`);
        return await next(req);
      }
    };
  }
}

const statusCodes: Record<number, Code> = { 400: Code.InvalidArgument, 401: Code.Unauthenticated, 403: Code.PermissionDenied, 404: Code.NotFound, 409: Code.AlreadyExists, 413: Code.InvalidArgument, 429: Code.ResourceExhausted, 503: Code.Unavailable, 504: Code.DeadlineExceeded };

/** A ConnectError from the edge's error JSON `{code, message}` of a REST route. */
function errorFromJson(status: number, body: Record<string, unknown>): ConnectError {
  const name = typeof body.code === "string" ? body.code : "";
  const code = (Object.values(Code).find((c) => typeof c === "number" && Code[c]!.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase() === name) as Code | undefined) ?? statusCodes[status] ?? Code.Unknown;
  return new ConnectError(typeof body.message === "string" ? body.message : `HTTP ${status}`, code);
}

/** A client for the edge at `opts.baseUrl`, signed out (or in `session`). */
export function createOasisClient(opts: OasisClientOptions, session?: Session): OasisClient {
  return new OasisClient(opts, session);
}
