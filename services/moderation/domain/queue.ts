/** Queue names: "" (any but escalated and appeals), "escalated", "appeals", "<content type>" or "<content type>:<language>". */
import { ErrorReason } from "#gen/oasis/moderation/v1/errors_pb.ts";
import { contentTypes } from "../adapters/index.ts";
import { errors } from "./errors.ts";
import type { QueueFilter } from "./model.ts";

/** Parses a queue name; BAD_QUEUE when it names no content type or a malformed language. */
export function parseQueue(queue: string, claimer: bigint): QueueFilter {
  if (queue === "") return { escalated: false };
  if (queue === "appeals") return { escalated: false, appeals: true, excludeReviewer: claimer };
  if (queue === "escalated") return { escalated: true };
  const [contentType, language, ...rest] = queue.split(":");
  if (!contentTypes.has(contentType!) || rest.length || (language !== undefined && !/^[a-z]{2,8}$/.test(language))) {
    throw errors.invalid(ErrorReason.BAD_QUEUE, [
      { field: "queue", description: `must be "", "escalated", "appeals", or one of ${[...contentTypes].join(", ")} with an optional ":<language>"` },
    ]);
  }
  return { escalated: false, contentType, language };
}
