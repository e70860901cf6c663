/** `bun run admin buckets`: media's bucket policies (ListBucketPolicies, UpdateBucketPolicy). */
import { create, toJson } from "@bufbuild/protobuf";
import { BucketPolicySchema, type BucketPolicy } from "#gen/oasis/media/v1/media_pb.ts";
import { ListBucketPoliciesResponseSchema, MediaService, UpdateBucketPolicyResponseSchema } from "#gen/oasis/media/v1/media_service_pb.ts";
import { connectOperator } from "./lib/connection.ts";
import { output, parse, table, UsageError, type AdminCommand } from "./lib/command.ts";

const help = `bun run admin buckets <list|set> [options]

Media's upload policies per bucket; a change applies within 5 s (media re-reads them).

  buckets list
  buckets set <bucket> [--max-bytes N] [--types image/jpeg,image/png] [--min-width N]
                       [--min-height N] [--max-width N] [--max-height N]
                       [--max-per-post N] [--animated true|false] [--watermark TEXT]
          Changes only the fields given; a new bucket starts from empty values.

Options: --json (output as JSON).`;

const int = (v: string | undefined, flag: string) => {
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,12}$/.test(v)) throw new UsageError(`${flag} takes a whole number`);
  return Number(v);
};

export const command: AdminCommand = {
  name: "buckets",
  summary: "media bucket policies: list, change",
  help,
  async run(args, opts) {
    const { values, positionals } = parse(args, {
      "max-bytes": { type: "string" },
      types: { type: "string" },
      "min-width": { type: "string" },
      "min-height": { type: "string" },
      "max-width": { type: "string" },
      "max-height": { type: "string" },
      "max-per-post": { type: "string" },
      animated: { type: "string" },
      watermark: { type: "string" },
    });
    const media = connectOperator().client(MediaService, "media");
    const [verb, bucket] = positionals;
    const listed = await media.listBucketPolicies({});
    if (verb === "list" || verb === undefined) {
      output(opts, toJson(ListBucketPoliciesResponseSchema, listed), () =>
        table([
          ["BUCKET", "TYPES", "MAX_BYTES", "MIN_WxH", "MAX_WxH", "PER_POST", "ANIMATED", "WATERMARK"],
          ...listed.policies.map((p) => [p.bucket, p.allowedContentTypes.join(","), p.maxBytes, `${p.minWidth}x${p.minHeight}`, `${p.maxWidth}x${p.maxHeight}`, p.maxCountPerPost, p.allowAnimated, p.watermarkText]),
        ]),
      );
      return;
    }
    if (verb !== "set" || !bucket) throw new UsageError(verb === "set" ? "set needs a bucket name" : `unknown verb "${verb}"`);
    const cur: BucketPolicy = listed.policies.find((p) => p.bucket === bucket) ?? create(BucketPolicySchema, { bucket });
    if (values.animated !== undefined && values.animated !== "true" && values.animated !== "false") throw new UsageError("--animated takes true or false");
    const maxBytes = int(values["max-bytes"], "--max-bytes");
    const policy = create(BucketPolicySchema, {
      ...cur,
      allowedContentTypes: values.types ? values.types.split(",").map((t) => t.trim()).filter(Boolean) : cur.allowedContentTypes,
      maxBytes: maxBytes === undefined ? cur.maxBytes : BigInt(maxBytes),
      minWidth: int(values["min-width"], "--min-width") ?? cur.minWidth,
      minHeight: int(values["min-height"], "--min-height") ?? cur.minHeight,
      maxWidth: int(values["max-width"], "--max-width") ?? cur.maxWidth,
      maxHeight: int(values["max-height"], "--max-height") ?? cur.maxHeight,
      maxCountPerPost: int(values["max-per-post"], "--max-per-post") ?? cur.maxCountPerPost,
      allowAnimated: values.animated === undefined ? cur.allowAnimated : values.animated === "true",
      watermarkText: values.watermark ?? cur.watermarkText,
    });
    const res = await media.updateBucketPolicy({ policy });
    output(opts, toJson(UpdateBucketPolicyResponseSchema, res), () => `bucket ${bucket} updated`);
  },
};
