/**
 * The image pipeline (sharp/libvips): the real type comes from the bytes, never from
 * what the client declared; orientation from EXIF is applied and then all metadata
 * (EXIF, GPS, XMP, ICC comments) is dropped by re-encoding; variants `thumb` (fits
 * 320x320), `feed` (fits 1080x1080; 1080 px is Instagram's feed width) and `orig`
 * (full size, re-encoded without metadata) are produced; animated GIF/WebP keep their
 * frames, delays and loop count. Also computes a BlurHash placeholder (4x3 components,
 * the blurha.sh default) and the SHA-256 of the uploaded bytes.
 *
 * Decompression bombs: `inspect` reads only the header (dimensions, frame count; libvips
 * parses the header without decoding a pixel), so the bucket policy refuses a
 * 16000x16000 PNG of 730 KiB before any pixel memory exists. `processImage` then decodes
 * exactly once, with libvips' own pixel ceiling (`limitInputPixels`, all frames counted),
 * into raw pixels that feed every variant: no variant decodes the upload again.
 */
import { createHash } from "node:crypto";
import sharp, { type Channels, type Sharp } from "sharp";
import { encode as encodeBlurhash } from "blurhash";

/** Types we can decode safely, by sharp's format name. SVG is refused: it is a document, not an image. */
const formats: Record<string, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  avif: "image/avif",
  heif: "image/heif",
};

/** What the header says, read without decoding pixels. */
export interface Inspection {
  readonly contentType: string;
  /** Display dimensions (after EXIF orientation), of one frame. */
  readonly width: number;
  readonly height: number;
  readonly animated: boolean;
  /** Frames in the file (1 for a still image). */
  readonly frames: number;
  /** Per-frame delays in ms and loop count (0 = forever) of an animated image, as the header gives them. */
  readonly delayMs?: number[];
  readonly loop?: number;
}

export type InspectionProblem = { readonly kind: "unsupported"; readonly detail: string } | { readonly kind: "corrupt"; readonly detail: string };

/**
 * Detects the type, display size and frame count from the header only (no pixel is
 * decoded, so the cost does not depend on the claimed dimensions); a problem when the
 * bytes are not an image we take. Damage past the header shows at `processImage`.
 */
export async function inspect(bytes: Uint8Array): Promise<Inspection | InspectionProblem> {
  let meta;
  try {
    // No pixel ceiling here: the header is read whatever it claims, and the bucket
    // policy (checkImage) gives the clear answer; the decoder's ceiling is in processImage.
    meta = await sharp(bytes, { animated: true, limitInputPixels: false }).metadata();
  } catch (err) {
    const msg = (err as Error).message;
    return /unsupported image format/i.test(msg)
      ? { kind: "unsupported", detail: "the bytes are not an image of a known type" }
      : { kind: "corrupt", detail: msg };
  }
  const contentType = meta.format ? formats[meta.format] : undefined;
  if (!contentType) return { kind: "unsupported", detail: `images of type ${meta.format ?? "unknown"} are not accepted` };
  const rotated = (meta.orientation ?? 1) >= 5;
  const frameHeight = meta.pageHeight ?? meta.height ?? 0;
  const frames = Math.max(1, meta.pages ?? 1);
  return {
    contentType,
    width: rotated ? frameHeight : meta.width ?? 0,
    height: rotated ? meta.width ?? 0 : frameHeight,
    animated: frames > 1,
    frames,
    ...(frames > 1 ? { delayMs: meta.delay, loop: meta.loop } : {}),
  };
}

export interface Variant {
  readonly name: "thumb" | "feed" | "orig";
  readonly bytes: Buffer;
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
}

export interface Processed {
  readonly variants: Variant[];
  readonly blurhash: string;
  readonly contentHash: string;
}

function watermarkSvg(text: string, width: number, height: number): Buffer {
  const size = Math.max(12, Math.round(Math.min(width, height) / 24));
  const escaped = text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return Buffer.from(
    `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">` +
      `<text x="${width - size}" y="${height - size}" font-size="${size}" font-family="sans-serif" text-anchor="end" ` +
      `fill="white" fill-opacity="0.6" stroke="black" stroke-opacity="0.3">${escaped}</text></svg>`,
  );
}

/** Decoded pixels: 8 bits a channel, frames stacked vertically (`pageHeight` rows each). */
interface Pixels {
  readonly data: Buffer;
  readonly width: number;
  readonly pageHeight: number;
  readonly frames: number;
  readonly channels: Channels;
}

/** A pipeline over decoded pixels; reading them is a memory copy, not a decode. */
function fromPixels(p: Pixels): Sharp {
  // Frames need both: raw.pageHeight marks the pages, animated makes sharp work per page.
  // Raw output is straight (not premultiplied) alpha: sharp reverses its premultiplication
  // before output, so none is declared here.
  const animated = p.frames > 1;
  return sharp(p.data, {
    raw: { width: p.width, height: p.pageHeight * p.frames, channels: p.channels, ...(animated ? { pageHeight: p.pageHeight } : {}) },
    animated,
    limitInputPixels: false,
  });
}

async function toPixels(pipeline: Sharp, frames: number): Promise<Pixels> {
  const { data, info } = await pipeline.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
  return { data, width: info.width, pageHeight: info.pageHeight ?? info.height / frames, frames, channels: info.channels };
}

async function render(pipeline: Sharp, name: Variant["name"], contentType: string): Promise<Variant> {
  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
  return { name, bytes: data, contentType, width: info.width, height: info.pageHeight ?? info.height };
}

/**
 * Makes the variants from one decode. `thumb` and `feed` are WebP (about a third smaller
 * than JPEG at the same quality); `orig` keeps the uploaded type. `watermark` is drawn on
 * `feed` of still images. `maxPixels` is the decoder's ceiling over all frames (the
 * bucket's max_width x max_height): libvips refuses a larger image before decoding it,
 * even if a caller skipped the policy check. A file that fails to decode fully
 * (truncated, damaged, over the ceiling) is a `corrupt` problem; nothing else is.
 */
export async function processImage(bytes: Uint8Array, info: Inspection, watermark: string, maxPixels: number): Promise<Processed | InspectionProblem> {
  let full: Pixels;
  try {
    // The one decode. failOn "truncated": a cut-off file is refused, not padded with grey.
    full = await toPixels(sharp(bytes, { animated: info.animated, failOn: "truncated", limitInputPixels: maxPixels }).rotate(), info.frames);
  } catch (err) {
    return { kind: "corrupt", detail: `the image cannot be decoded: ${(err as Error).message}` };
  }
  const fit = (px: number) => ({ width: px, height: px, fit: "inside" as const, withoutEnlargement: true });
  const animation = info.animated ? { loop: info.loop ?? 0, ...(info.delayMs?.length ? { delay: info.delayMs } : {}) } : {};

  const thumbPixels = await toPixels(fromPixels(full).resize(fit(320)), full.frames);
  const feedPixels = await toPixels(fromPixels(full).resize(fit(1080)), full.frames);
  const feedPipe =
    watermark && !info.animated
      ? fromPixels(feedPixels).composite([{ input: watermarkSvg(watermark, feedPixels.width, feedPixels.pageHeight) }])
      : fromPixels(feedPixels);
  const origType = ["image/jpeg", "image/png", "image/gif", "image/webp"].includes(info.contentType) ? info.contentType : "image/jpeg";
  const origPipe =
    origType === "image/jpeg"
      ? fromPixels(full).jpeg({ quality: info.contentType === "image/jpeg" ? 90 : 92 })
      : origType === "image/png"
        ? fromPixels(full).png({ compressionLevel: 6 })
        : origType === "image/gif"
          ? // From pixels there is no source palette to reuse; at sharp's default (3) cgif
            // gives each frame its own palette (the 24-frame demo GIF grows 4.4 -> 12.5 KB),
            // at 8 frames share one unless their colours drift (3.7 KB).
            fromPixels(full).gif({ ...animation, interPaletteMaxError: 8 })
          : fromPixels(full).webp({ quality: 92, ...animation });
  const [thumb, feed, orig, small] = await Promise.all([
    render(fromPixels(thumbPixels).webp({ quality: 75, ...animation }), "thumb", "image/webp"),
    render(feedPipe.webp({ quality: 82, ...animation }), "feed", "image/webp"),
    render(origPipe, "orig", origType),
    // BlurHash of the first frame, from the thumb's pixels.
    fromPixels({ ...thumbPixels, frames: 1, data: thumbPixels.data.subarray(0, thumbPixels.width * thumbPixels.pageHeight * thumbPixels.channels) }).resize(32, 32, { fit: "inside" }).ensureAlpha().raw().toBuffer({ resolveWithObject: true }),
  ]);
  const blurhash = encodeBlurhash(new Uint8ClampedArray(small.data), small.info.width, small.info.height, 4, 3);
  return { variants: [thumb, feed, orig], blurhash, contentHash: createHash("sha256").update(bytes).digest("hex") };
}
