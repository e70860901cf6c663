/**
 * Puts the third-party .proto files that our contracts import into `proto/vendor/`
 * (git-ignored) so `buf` can build without network access and without committing
 * anyone else's code.
 *
 * - google/api and google/rpc come from the npm package `google-proto-files`;
 * - grpc.health.v1 from `grpc-health-check`, grpc.reflection.v1 from `@grpc/reflection`;
 * - buf/validate/validate.proto ships in no reachable package as source, only as the
 *   serialized FileDescriptorProto inside `@bufbuild/protovalidate`. We print it back
 *   to .proto text. Only the structure is printed (messages, enums, oneofs, extensions,
 *   ranges): that is all `buf` needs to encode our `(buf.validate.field)` options. The
 *   rules' CEL programs are not needed here because protovalidate evaluates them from
 *   its own embedded descriptor at run time.
 *
 * Run: `bun scripts/vendor-protos.ts` (the `generate` and `postinstall` scripts do).
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { isFieldSet } from "@bufbuild/protobuf";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";

const root = join(import.meta.dir, "..");
const vendorDir = join(root, "proto", "vendor");
const require = createRequire(import.meta.url);

/** Package root of an installed npm dependency. */
function pkgDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

/** [npm package, path inside it, path under proto/vendor] */
const copies: Array<[string, string, string]> = [
  ["google-proto-files", "google/api/annotations.proto", "google/api/annotations.proto"],
  ["google-proto-files", "google/api/http.proto", "google/api/http.proto"],
  ["google-proto-files", "google/api/field_behavior.proto", "google/api/field_behavior.proto"],
  ["google-proto-files", "google/rpc/status.proto", "google/rpc/status.proto"],
  ["google-proto-files", "google/rpc/code.proto", "google/rpc/code.proto"],
  ["google-proto-files", "google/rpc/error_details.proto", "google/rpc/error_details.proto"],
  ["grpc-health-check", "proto/health/v1/health.proto", "grpc/health/v1/health.proto"],
  ["@grpc/reflection", "build/proto/grpc/reflection/v1/reflection.proto", "grpc/reflection/v1/reflection.proto"],
];

const scalarNames: Partial<Record<FieldDescriptorProto_Type, string>> = {
  [FieldDescriptorProto_Type.DOUBLE]: "double",
  [FieldDescriptorProto_Type.FLOAT]: "float",
  [FieldDescriptorProto_Type.INT64]: "int64",
  [FieldDescriptorProto_Type.UINT64]: "uint64",
  [FieldDescriptorProto_Type.INT32]: "int32",
  [FieldDescriptorProto_Type.FIXED64]: "fixed64",
  [FieldDescriptorProto_Type.FIXED32]: "fixed32",
  [FieldDescriptorProto_Type.BOOL]: "bool",
  [FieldDescriptorProto_Type.STRING]: "string",
  [FieldDescriptorProto_Type.BYTES]: "bytes",
  [FieldDescriptorProto_Type.UINT32]: "uint32",
  [FieldDescriptorProto_Type.SFIXED32]: "sfixed32",
  [FieldDescriptorProto_Type.SFIXED64]: "sfixed64",
  [FieldDescriptorProto_Type.SINT32]: "sint32",
  [FieldDescriptorProto_Type.SINT64]: "sint64",
};

function fieldType(f: FieldDescriptorProto): string {
  return scalarNames[f.type] ?? f.typeName;
}

function fieldLine(f: FieldDescriptorProto, withLabel: boolean): string {
  const label = !withLabel
    ? ""
    : f.label === FieldDescriptorProto_Label.REPEATED
      ? "repeated "
      : f.label === FieldDescriptorProto_Label.REQUIRED
        ? "required "
        : "optional ";
  const dflt = isFieldSet(f, FieldDescriptorProtoSchema.field.defaultValue) ? ` [default = ${f.type === FieldDescriptorProto_Type.STRING ? JSON.stringify(f.defaultValue) : f.defaultValue}]` : "";
  return `${label}${fieldType(f)} ${f.name} = ${f.number}${dflt};`;
}

function printEnum(e: EnumDescriptorProto, ind: string): string[] {
  return [`${ind}enum ${e.name} {`, ...e.value.map((v) => `${ind}  ${v.name} = ${v.number};`), `${ind}}`];
}

function printMessage(m: DescriptorProto, ind: string): string[] {
  const out = [`${ind}message ${m.name} {`];
  const inner = `${ind}  `;
  for (const e of m.enumType) out.push(...printEnum(e, inner));
  for (const n of m.nestedType) out.push(...printMessage(n, inner));
  const oneofFields = new Map<number, FieldDescriptorProto[]>();
  for (const f of m.field) {
    if (isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex) && !f.proto3Optional) {
      const list = oneofFields.get(f.oneofIndex) ?? [];
      list.push(f);
      oneofFields.set(f.oneofIndex, list);
    } else {
      out.push(inner + fieldLine(f, true));
    }
  }
  m.oneofDecl.forEach((o, i) => {
    out.push(`${inner}oneof ${o.name} {`);
    for (const f of oneofFields.get(i) ?? []) out.push(`${inner}  ${fieldLine(f, false)}`);
    out.push(`${inner}}`);
  });
  for (const r of m.extensionRange) {
    // DescriptorProto ranges are end-exclusive; 536870912 is 2^29, i.e. "max".
    const end = r.end >= 536870912 ? "max" : String(r.end - 1);
    out.push(`${inner}extensions ${r.start} to ${end};`);
  }
  for (const r of m.reservedRange) out.push(`${inner}reserved ${r.start} to ${r.end - 1};`);
  if (m.reservedName.length) out.push(`${inner}reserved ${m.reservedName.map((n) => JSON.stringify(n)).join(", ")};`);
  out.push(`${ind}}`);
  return out;
}

/** Prints the structure of a proto2 FileDescriptorProto as .proto source. */
function printFile(p: FileDescriptorProto): string {
  const lines = [
    "// GENERATED by scripts/vendor-protos.ts from the FileDescriptorProto embedded in",
    "// @bufbuild/protovalidate. Structure only; do not edit, do not commit.",
    'syntax = "proto2";',
    `package ${p.package};`,
    ...p.dependency.map((d) => `import "${d}";`),
  ];
  if (p.options?.goPackage) lines.push(`option go_package = "${p.options.goPackage}";`);
  for (const e of p.enumType) lines.push(...printEnum(e, ""));
  for (const m of p.messageType) lines.push(...printMessage(m, ""));
  const byExtendee = new Map<string, FieldDescriptorProto[]>();
  for (const x of p.extension) byExtendee.set(x.extendee, [...(byExtendee.get(x.extendee) ?? []), x]);
  for (const [extendee, fields] of byExtendee) {
    lines.push(`extend ${extendee} {`, ...fields.map((f) => `  ${fieldLine(f, true)}`), "}");
  }
  return `${lines.join("\n")}\n`;
}

rmSync(vendorDir, { recursive: true, force: true });
for (const [pkg, from, to] of copies) {
  const dest = join(vendorDir, to);
  mkdirSync(dirname(dest), { recursive: true });
  cpSync(join(pkgDir(pkg), from), dest);
}
const validatePath = join(vendorDir, "buf/validate/validate.proto");
mkdirSync(dirname(validatePath), { recursive: true });
writeFileSync(validatePath, printFile(file_buf_validate_validate.proto));
console.log(`vendored ${copies.length + 1} protos into proto/vendor`);
