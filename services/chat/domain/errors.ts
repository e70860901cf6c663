/** Chat's error constructors (ErrorReason in proto/oasis/chat/v1/errors.proto). */
import { domainErrors } from "#kit/errors.ts";
import { ErrorReasonSchema, type ErrorReason } from "#gen/oasis/chat/v1/errors_pb.ts";

export const errors = domainErrors<ErrorReason>("chat", ErrorReasonSchema);
