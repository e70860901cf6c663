/** Media's entities and the store's interface (store.ts implements it over MySQL). */
import type { Queryable } from "#kit/mysql.ts";
import type { BucketPolicy } from "#gen/oasis/media/v1/media_pb.ts";

/** Where one variant's bytes are. */
export interface VariantLocation {
  readonly name: string;
  readonly needleKey: bigint;
  readonly cookie: number;
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
  readonly sizeBytes: number;
}

/** A media row with its variants, as stored. */
export interface MediaRecord {
  readonly id: bigint;
  readonly ownerId: bigint;
  readonly bucket: string;
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
  readonly sizeBytes: number;
  readonly blurhash: string;
  readonly contentHash: string;
  readonly animated: boolean;
  readonly createdAt: Date;
  readonly deleted: boolean;
  readonly variants: VariantLocation[];
}

/** What media's use cases need of the database; every method runs on `db` (a pool or a transaction). */
export interface MediaStore {
  allBuckets(db: Queryable): Promise<BucketPolicy[]>;
  upsertBucket(db: Queryable, p: BucketPolicy): Promise<void>;
  insertMedia(db: Queryable, m: MediaRecord): Promise<void>;
  /** Media rows (deleted ones included, flagged) with their variants. */
  mediaByIds(db: Queryable, ids: readonly bigint[]): Promise<Map<bigint, MediaRecord>>;
  markDeleted(db: Queryable, id: bigint): Promise<boolean>;
  deletedNeedles(db: Queryable, limit: number): Promise<Array<{ mediaId: bigint; needleKey: bigint }>>;
  allNeedleKeys(db: Queryable): Promise<Map<bigint, bigint>>;
  purgeMedia(db: Queryable, ids: readonly bigint[]): Promise<void>;
}
