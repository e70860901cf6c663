/**
 * The search engine behind the service: one interface, two implementations chosen by
 * configuration (store.ts: embedded SQLite FTS5, the default; meili.ts: Meilisearch when
 * OASIS_MEILI_URL is set). Engines hold only what ranking and filtering need; results
 * are ids that the service hydrates from the owning services, so the index never serves
 * stale text or a stale visibility decision.
 *
 * Writes are idempotent and ordered by the source's version: an upsert older than or
 * equal to what is stored changes nothing, and a deleted post stays deleted (a
 * tombstone), so events delivered twice or out of order have their effect exactly once.
 */
import type { Query } from "./analyze.ts";

/** A post as indexed. */
export interface PostDoc {
  readonly postId: bigint;
  readonly authorId: bigint;
  readonly caption: string;
  /** As parsed by the post service (lower-cased, any script). */
  readonly hashtags: readonly string[];
  /** Creation time, ms since epoch. */
  readonly createdMs: number;
  /** oasis.post.v1.Visibility (hydration applies it; kept for filters and debugging). */
  readonly visibility: number;
  /** The post's edit_count: 0 when created, +1 per caption edit. */
  readonly version: number;
}

/** A user as indexed. */
export interface UserDoc {
  readonly userId: bigint;
  readonly handle: string;
  readonly displayName: string;
  readonly bio: string;
  /** The profile's update_time (or create_time) in microseconds: later wins. */
  readonly version: bigint;
}

/** What SearchPosts asks the engine. */
export interface PostSearch {
  readonly query: Query;
  readonly authorId?: bigint;
  /** Inclusive lower bound on createdMs. */
  readonly afterMs?: number;
  /** Exclusive upper bound on createdMs. */
  readonly beforeMs?: number;
  /** The cursor of the last hit already returned (from a previous page); none for the first. */
  readonly cursor?: Cursor;
  readonly limit: number;
}

/**
 * Where a hit stands in the engine's order, so the next page starts right after it.
 * Embedded: a keyset (rank tier, id), so posts indexed while someone pages never shift
 * a page: no duplicates. Meilisearch (no keyset over relevance): the offset after the
 * hit plus an id bound fixed by the first page, so new posts do not shift offsets.
 */
export type Cursor = ReadonlyArray<string | number | bigint>;

/** One ranked result. */
export interface Hit {
  readonly id: bigint;
  readonly cursor: Cursor;
}

/** What SearchUsers asks the engine. */
export interface UserSearch {
  readonly query: Query;
  readonly cursor?: Cursor;
  readonly limit: number;
}

/** A hashtag's counts. */
export interface HashtagCount {
  readonly name: string;
  /** Live posts with the tag. */
  readonly posts: number;
  /** Of those, created in the last 24 h. */
  readonly recent: number;
  /** Posts of the last 24 h minus the mean daily posts of the 7 days before. */
  readonly score: number;
}

/** Writes of one index generation. */
export interface IndexWriter {
  /** Applies a post if newer than the stored version and not deleted; true if applied. */
  upsertPost(doc: PostDoc): Promise<boolean>;
  /** Deletes a post for good (keeps a tombstone so no older event brings it back). */
  deletePost(postId: bigint): Promise<void>;
  /**
   * Hides or shows a post without deleting it: the hook for moderation takedowns
   * (issue 20). Hidden posts are never returned and do not count in hashtags.
   */
  setPostHidden(postId: bigint, hidden: boolean): Promise<void>;
  /** Applies a user if newer than the stored version; true if applied. */
  upsertUser(doc: UserDoc): Promise<boolean>;
}

/** A fresh generation being built by `reindex`; queries keep using the current one. */
export interface Rebuild extends IndexWriter {
  /** A name that identifies the generation (for logs and the dual-write marker). */
  readonly generation: string;
  /** Makes this generation the one queries use, atomically; the old one is dropped. */
  commit(): Promise<void>;
  /** Drops the unfinished generation. */
  abort(): Promise<void>;
  /** Lets go of this handle without committing or dropping (a process that only dual-wrote). */
  release(): Promise<void>;
}

export interface SearchEngine extends IndexWriter {
  readonly kind: "embedded" | "meilisearch";
  /** Creates indexes and applies settings; called once at start. */
  open(): Promise<void>;
  /** Post ids, best first (exact words before typo matches, then newest). */
  searchPosts(search: PostSearch): Promise<Hit[]>;
  /** User ids, best first (handle equal, handle prefix, other fields; then oldest). */
  searchUsers(search: UserSearch): Promise<Hit[]>;
  /** Tags starting with `prefix` (normalized), most posts first. */
  searchHashtags(prefix: string, limit: number): Promise<HashtagCount[]>;
  /** Tags by trending score at `nowMs`. */
  trendingHashtags(nowMs: number, limit: number): Promise<HashtagCount[]>;
  /** Ids of every live (not deleted) post and every user, for checks and reindex reports. */
  allIds(): Promise<{ posts: bigint[]; users: bigint[] }>;
  /**
   * A token that changes whenever the index may have changed under this process, by any
   * writer (embedded: the live file and SQLite's data_version); "" when the engine cannot
   * tell (Meilisearch: the writers' search:writes bump tells, request-cache.ts). Cheap:
   * read on every refresh of the request cache's generation.
   */
  changeToken(): string;
  /**
   * changeToken without this process's own writes (embedded: the live file and
   * data_version; Meilisearch: ""): what entries whose queries' counters tell this
   * process's writes apart check (request-cache.ts QueryDep).
   */
  externalChangeToken(): string;
  /** Picks up a generation another process committed (embedded: re-reads CURRENT now). */
  follow(): void;
  /** Starts a new generation (reindex), or opens the one named (another process's rebuild). */
  rebuild(generation?: string): Promise<Rebuild>;
  close(): Promise<void>;
}
