/** Index documents from the owning services' messages. */
import type { Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import type { Post } from "#gen/oasis/post/v1/post_pb.ts";
import type { PostDoc, UserDoc } from "./engine.ts";

const ms = (t: { seconds: bigint; nanos: number } | undefined) => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : 0);
const micros = (t: { seconds: bigint; nanos: number } | undefined) => (t ? t.seconds * 1_000_000n + BigInt(Math.floor(t.nanos / 1000)) : 0n);

/** A post as indexed; its version is edit_count (0 at creation, +1 per edit). */
export function postDoc(p: Post): PostDoc {
  return { postId: p.postId, authorId: p.authorId, caption: p.caption, hashtags: p.hashtags, createdMs: ms(p.createdAt), visibility: p.visibility, version: p.editCount };
}

/** A profile as indexed; its version is update_time (create_time if never updated), in us. */
export function userDoc(p: Profile): UserDoc {
  const version = micros(p.updateTime) || micros(p.createTime) || 1n;
  return { userId: p.userId, handle: p.handle, displayName: p.displayName, bio: p.bio, version };
}
