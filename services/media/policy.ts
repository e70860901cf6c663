/**
 * Bucket upload policies (rows of `buckets`), checked against an upload after its type
 * and size were read from the bytes. Each violation names the rule that was broken, so
 * a client can tell "too big" from "wrong type".
 */
import type { BucketPolicy } from "#gen/oasis/media/v1/media_pb.ts";
import { ErrorReason } from "#gen/oasis/media/v1/errors_pb.ts";
import type { Inspection } from "./pipeline.ts";

export interface PolicyViolation {
  readonly reason: ErrorReason;
  /** Rule name as in BucketPolicy, e.g. "max_bytes". */
  readonly rule: string;
  readonly description: string;
}

/**
 * Buckets whose bytes are private: served only with a valid signed URL (kit/signed-url.ts,
 * made by the service that decides who may see them, e.g. chat for its members) and
 * never stored by shared caches (`Cache-Control: private, no-store`).
 */
export const privateBuckets: ReadonlySet<string> = new Set(["chat-images"]);

/** Checks the size before decoding anything (cheap, and bounds decoder work). */
export function checkSize(policy: BucketPolicy, sizeBytes: number): PolicyViolation | undefined {
  if (sizeBytes > Number(policy.maxBytes)) {
    return {
      reason: ErrorReason.TOO_LARGE,
      rule: "max_bytes",
      description: `${sizeBytes} bytes is over bucket ${policy.bucket}'s max_bytes of ${policy.maxBytes}`,
    };
  }
  return undefined;
}

/**
 * Checks type, dimensions, frames and animation on the header's numbers (`inspect`), so
 * an image too large to decode is refused before any pixel is decoded.
 */
export function checkImage(policy: BucketPolicy, img: Inspection): PolicyViolation | undefined {
  if (!policy.allowedContentTypes.includes(img.contentType)) {
    return {
      reason: ErrorReason.UNSUPPORTED_TYPE,
      rule: "allowed_content_types",
      description: `${img.contentType} is not allowed in bucket ${policy.bucket} (allowed: ${policy.allowedContentTypes.join(", ")})`,
    };
  }
  if (img.width < policy.minWidth || img.height < policy.minHeight) {
    return {
      reason: ErrorReason.BAD_DIMENSIONS,
      rule: "min_width/min_height",
      description: `${img.width}x${img.height} is smaller than ${policy.minWidth}x${policy.minHeight}`,
    };
  }
  if (img.width > policy.maxWidth || img.height > policy.maxHeight) {
    return {
      reason: ErrorReason.BAD_DIMENSIONS,
      rule: "max_width/max_height",
      description: `${img.width}x${img.height} is larger than ${policy.maxWidth}x${policy.maxHeight}`,
    };
  }
  // Frames multiply the decoded size: 400 frames of 1000x1000 decode like one 20000x20000
  // still. All frames together get the pixel budget of one still image of the bucket's
  // largest size.
  if (img.width * img.height * img.frames > policy.maxWidth * policy.maxHeight) {
    return {
      reason: ErrorReason.BAD_DIMENSIONS,
      rule: "max_pixels",
      description: `${img.frames} frames of ${img.width}x${img.height} are more pixels than one ${policy.maxWidth}x${policy.maxHeight} image`,
    };
  }
  if (img.animated && !policy.allowAnimated) {
    return { reason: ErrorReason.ANIMATED_NOT_ALLOWED, rule: "allow_animated", description: `animated images are not allowed in bucket ${policy.bucket}` };
  }
  return undefined;
}
