/** Media records as the API shows them. */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { MediaSchema, MediaVariantSchema, type Media } from "#gen/oasis/media/v1/media_pb.ts";
import type { MediaRecord } from "./model.ts";

/** The public Media message for a record; URLs are `<prefix>/<id>/<variant>`. */
export function toMedia(r: MediaRecord, publicPrefix: string): Media {
  return create(MediaSchema, {
    id: r.id,
    ownerId: r.ownerId,
    bucket: r.bucket,
    contentType: r.contentType,
    width: r.width,
    height: r.height,
    sizeBytes: BigInt(r.sizeBytes),
    blurhash: r.blurhash,
    contentHash: r.contentHash,
    animated: r.animated,
    createTime: timestampFromDate(r.createdAt),
    variants: Object.fromEntries(
      r.variants.map((v) => [
        v.name,
        create(MediaVariantSchema, { url: `${publicPrefix}/${r.id}/${v.name}`, width: v.width, height: v.height, sizeBytes: BigInt(v.sizeBytes), contentType: v.contentType }),
      ]),
    ),
  });
}
