/**
 * post_created (oasis.post.v1.PostCreated) read for consumers that need only who posted
 * what: the post's id, author and referred post, not its caption, media and mentions.
 * Decoding the whole Post (up to nine media, each with its variants) was the largest part
 * of the feed's and interaction's CPU per post_created after their store round trips
 * (bench/README.md stop 27); this reads the three ids and skips the rest unparsed. The
 * feed takes the post's bytes for its read model from the event's own (EventMeta.data).
 */
import { create } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { PostCreatedSchema, type PostCreated } from "#gen/oasis/post/v1/events_pb.ts";
import { PostSchema } from "#gen/oasis/post/v1/post_pb.ts";

const postField = PostCreatedSchema.field.post.number;
const ids = { id: PostSchema.field.postId.number, author: PostSchema.field.authorId.number, refer: PostSchema.field.referPostId.number };

/**
 * A PostCreated whose post holds only post_id, author_id and refer_post_id (every other
 * field at its default), read from the event's bytes. Throws on bytes that are not a
 * PostCreated (the consumer dead-letters them, as it does any undecodable event).
 */
export function decodePostCreatedHead(data: Uint8Array): PostCreated {
  const r = new BinaryReader(data);
  let post: Uint8Array | undefined;
  while (r.pos < r.len) {
    const [no, wire] = r.tag();
    if (no === postField && wire === WireType.LengthDelimited) post = r.bytes();
    else r.skip(wire, no);
  }
  const head = { postId: 0n, authorId: 0n, referPostId: 0n };
  if (post) {
    const p = new BinaryReader(post);
    while (p.pos < p.len) {
      const [no, wire] = p.tag();
      if (wire === WireType.Varint && (no === ids.id || no === ids.author || no === ids.refer)) {
        const v = BigInt(p.int64());
        if (no === ids.id) head.postId = v;
        else if (no === ids.author) head.authorId = v;
        else head.referPostId = v;
      } else p.skip(wire, no);
    }
  }
  return create(PostCreatedSchema, { post: post ? head : undefined });
}
