/**
 * Writes gen/openapi.json: the OpenAPI 3.1 document of the edge, built from the
 * contracts *with their comments* (buf build keeps source info; the descriptors embedded
 * in generated code do not). Part of `npm run generate`; the contract checks regenerate
 * it and fail if the committed file differs.
 *
 * Run: bun scripts/openapi.ts [output path, default gen/openapi.json]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFileRegistry, fromBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { buildOpenApi } from "../edge/openapi/build.ts";
import { counted } from "../edge/openapi/validate-rules.ts";
import { edgeServices } from "../edge/services.ts";
import { RouteTable } from "../edge/transcode/route-table.ts";

const root = join(import.meta.dir, "..");
const out = process.argv[2] ?? join(root, "gen", "openapi.json");
const dir = mkdtempSync(join(tmpdir(), "oasis-openapi-"));
try {
  const image = join(dir, "image.binpb");
  const r = Bun.spawnSync([join(root, "node_modules", ".bin", "buf"), "build", root, "-o", image], { cwd: root });
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(image)));
  const services = edgeServices.map((s) => registry.getService(s.typeName)).filter((s): s is DescService => !!s);
  const doc = buildOpenApi(services, new RouteTable(services), [registry.getMessage("oasis.media.v1.UploadMediaResponse")!]);
  writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`wrote ${out}: ${Object.keys((doc as { paths: object }).paths).length} paths; protovalidate rules: ${counted.rules} seen, ${counted.keywords} JSON Schema keywords`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
