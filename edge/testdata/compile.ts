/**
 * Compiles the edge's test-only contract (edge/testdata/proto) with buf, next to the
 * vendored third-party protos and our access option, so tests get real descriptors for
 * a service that is never generated into gen/: the transcoding table reads its
 * bindings, the timeout tests serve it for real behind an in-process edge.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFileRegistry, fromBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const root = join(import.meta.dir, "..", "..");

/** `oasis.edgetest.v1.EdgeTestService`, compiled from source. */
export function compileEdgeTestService(): DescService {
  const dir = mkdtempSync(join(tmpdir(), "oasis-edgetest-"));
  try {
    cpSync(join(import.meta.dir, "proto"), join(dir, "proto"), { recursive: true });
    cpSync(join(root, "proto", "oasis", "api"), join(dir, "proto", "oasis", "api"), { recursive: true });
    cpSync(join(root, "proto", "vendor"), join(dir, "vendor"), { recursive: true });
    writeFileSync(join(dir, "buf.yaml"), "version: v2\nmodules:\n  - path: proto\n  - path: vendor\n");
    const out = join(dir, "image.binpb");
    const r = Bun.spawnSync([join(root, "node_modules", ".bin", "buf"), "build", dir, "-o", out]);
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(out)));
    const service = registry.getService("oasis.edgetest.v1.EdgeTestService");
    if (!service) throw new Error("oasis.edgetest.v1.EdgeTestService missing from the compiled image");
    return service;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
