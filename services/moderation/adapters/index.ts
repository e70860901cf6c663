/** The content types moderation knows, by SubjectType. */
import { SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import { accountAdapter } from "./account.ts";
import type { ContentAdapter } from "./adapter.ts";
import { commentAdapter } from "./comment.ts";
import { messageAdapter } from "./message.ts";
import { postAdapter } from "./post.ts";

export const adapters: ReadonlyMap<SubjectType, ContentAdapter> = new Map(
  [postAdapter, commentAdapter, accountAdapter, messageAdapter].map((a) => [a.type, a]),
);

/** Content types by queue name ("post", ...). */
export const contentTypes: ReadonlySet<string> = new Set([...adapters.values()].map((a) => a.contentType));
