/** Moderation's error constructors (ErrorReason in proto/oasis/moderation/v1/errors.proto). */
import { domainErrors } from "#kit/errors.ts";
import { ErrorReasonSchema, type ErrorReason } from "#gen/oasis/moderation/v1/errors_pb.ts";

export const errors = domainErrors<ErrorReason>("moderation", ErrorReasonSchema);
