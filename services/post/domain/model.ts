/** Post's entities and the store's interface (store.ts implements it over MySQL). */
import type { Queryable, Statement } from "#kit/mysql.ts";
import type { Post } from "#gen/oasis/post/v1/post_pb.ts";

/** A post row: the serialized Post and whether it was deleted. */
export interface StoredPost {
  readonly post: Post;
  readonly deleted: boolean;
}

/** What post's use cases need of the database; every method runs on `db` (a pool or a transaction). */
export interface PostStore {
  insertPost(db: Queryable, post: Post): Promise<void>;
  /** insertPost as statements of a batched transaction (kit/mysql.ts withBatchedTransaction). */
  insertPostStatements(post: Post, when?: string, body?: Uint8Array | { readonly sql: string }): Statement[];
  notSuspendedCondition(userId: bigint): Statement;
  /** The locking read of isSuspended(db, userId, true) as a batch statement: any row means suspended. */
  suspendedForUpdateStatement(userId: bigint): Statement;
  /** Rows by id, deleted ones included; `forUpdate` locks them until commit. */
  postsByIds(db: Queryable, ids: readonly bigint[], forUpdate?: boolean): Promise<Map<bigint, StoredPost>>;
  updateBody(db: Queryable, post: Post): Promise<void>;
  markDeleted(db: Queryable, postId: bigint): Promise<boolean>;
  addRevision(db: Queryable, postId: bigint, revision: number, caption: string, createdAt: Date): Promise<void>;
  revisions(db: Queryable, postId: bigint): Promise<Array<{ revision: number; caption: string; createdAt: Date }>>;
  /** An author's live post ids, newest first, below `beforeId`. */
  authorPostIds(db: Queryable, authorId: bigint, beforeId: bigint | undefined, limit: number): Promise<bigint[]>;
  replaceHashtags(db: Queryable, postId: bigint, tags: readonly string[]): Promise<void>;
  /** A user's post count as shown: live posts not taken down, 0 while suspended. */
  userPostCount(db: Queryable, userId: bigint): Promise<bigint>;
  /** Whether a suspension is in force on the user (`lock`: lock their rows until commit). */
  isSuspended(db: Queryable, userId: bigint, lock?: boolean): Promise<boolean>;
}
