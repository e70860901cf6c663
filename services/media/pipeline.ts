/**
 * The image pipeline (sharp/libvips): the real type comes from the bytes, never from
 * what the client declared; orientation from EXIF is applied and then all metadata
 * (EXIF, GPS, XMP, ICC comments) is dropped by re-encoding; variants `thumb` (fits
 * 320x320), `feed` (fits 1080x1080; 1080 px is Instagram's feed width) and `orig`
 * (full size, re-encoded without metadata) are produced; animated GIF/WebP keep their
 * frames. Also computes a BlurHash placeholder (4x3 components, the blurha.sh default)
 * and the SHA-256 of the uploaded bytes.
 */
import { createHash } from "node:crypto";
import sharp, { type Sharp } from "sharp";
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

export interface Inspection {
  readonly contentType: string;
  /** Display dimensions (after EXIF orientation). */
  readonly width: number;
  readonly height: number;
  readonly animated: boolean;
}

export type InspectionProblem = { readonly kind: "unsupported"; readonly detail: string } | { readonly kind: "corrupt"; readonly detail: string };

/** Detects the type and size from the bytes; a problem when they are not an image we take. */
export async function inspect(bytes: Uint8Array): Promise<Inspection | InspectionProblem> {
  let meta;
  try {
    meta = await sharp(bytes, { animated: true }).metadata();
  } catch (err) {
    const msg = (err as Error).message;
    return /unsupported image format/i.test(msg)
      ? { kind: "unsupported", detail: "the bytes are not an image of a known type" }
      : { kind: "corrupt", detail: msg };
  }
  const contentType = meta.format ? formats[meta.format] : undefined;
  if (!contentType) return { kind: "unsupported", detail: `images of type ${meta.format ?? "unknown"} are not accepted` };
  // Decode every pixel once: a truncated or damaged file fails here, not later.
  try {
    await sharp(bytes, { animated: true, failOn: "truncated" }).raw().toBuffer();
  } catch (err) {
    return { kind: "corrupt", detail: `the image cannot be decoded: ${(err as Error).message}` };
  }
  const rotated = (meta.orientation ?? 1) >= 5;
  const frameHeight = meta.pageHeight ?? meta.height ?? 0;
  return {
    contentType,
    width: rotated ? frameHeight : meta.width ?? 0,
    height: rotated ? meta.width ?? 0 : frameHeight,
    animated: (meta.pages ?? 1) > 1,
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

async function render(pipeline: Sharp, name: Variant["name"], contentType: string): Promise<Variant> {
  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
  return { name, bytes: data, contentType, width: info.width, height: info.pageHeight ?? info.height };
}

/**
 * Makes the variants. `thumb` and `feed` are WebP (about a third smaller than JPEG at the
 * same quality); `orig` keeps the uploaded type. `watermark` is drawn on `feed` of
 * still images.
 */
export async function processImage(bytes: Uint8Array, info: Inspection, watermark: string): Promise<Processed> {
  const base = () => sharp(bytes, { animated: info.animated }).rotate();
  const fit = (px: number) => ({ width: px, height: px, fit: "inside" as const, withoutEnlargement: true });
  const thumb = await render(base().resize(fit(320)).webp({ quality: 75 }), "thumb", "image/webp");
  let feedPipe = base().resize(fit(1080));
  if (watermark && !info.animated) {
    const sized = await base().resize(fit(1080)).toBuffer({ resolveWithObject: true });
    feedPipe = sharp(sized.data).composite([{ input: watermarkSvg(watermark, sized.info.width, sized.info.height) }]);
  }
  const feed = await render(feedPipe.webp({ quality: 82 }), "feed", "image/webp");
  const origPipe =
    info.contentType === "image/jpeg"
      ? base().jpeg({ quality: 90 })
      : info.contentType === "image/png"
        ? base().png({ compressionLevel: 6 })
        : info.contentType === "image/gif"
          ? base().gif()
          : info.contentType === "image/webp"
            ? base().webp({ quality: 92 })
            : base().jpeg({ quality: 92 });
  const origType = ["image/jpeg", "image/png", "image/gif", "image/webp"].includes(info.contentType) ? info.contentType : "image/jpeg";
  const orig = await render(origPipe, "orig", origType);
  const small = await sharp(thumb.bytes).resize(32, 32, { fit: "inside" }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const blurhash = encodeBlurhash(new Uint8ClampedArray(small.data), small.info.width, small.info.height, 4, 3);
  return { variants: [thumb, feed, orig], blurhash, contentHash: createHash("sha256").update(bytes).digest("hex") };
}
