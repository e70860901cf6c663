/**
 * gRPC server reflection v1 (grpc/reflection/v1/reflection.proto) for Connect-ES, so
 * `buf curl --list-methods`, grpcurl and Postman discover our services without .proto
 * files. Descriptors come from the generated code (the files embedded by protoc-gen-es)
 * and are served with all their transitive dependencies.
 */
import { toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  ServerReflection,
  type ServerReflectionRequest,
} from "#gen/grpc/reflection/v1/reflection_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ServerReflectionResponseSchema } from "#gen/grpc/reflection/v1/reflection_pb.ts";

type ResponseInit = MessageInitShape<typeof ServerReflectionResponseSchema>;

/** Index of every file reachable from the served services. */
class DescriptorIndex {
  readonly files = new Map<string, DescFile>();
  readonly symbols = new Map<string, DescFile>();
  /** extendee type name -> extension number -> file */
  readonly extensions = new Map<string, Map<number, DescFile>>();

  constructor(readonly services: readonly DescService[]) {
    for (const s of services) this.addFile(s.file);
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.name)) return;
    this.files.set(file.name, file);
    for (const dep of file.dependencies) this.addFile(dep);
    const addMessage = (m: { typeName: string; nestedMessages: any[]; nestedEnums: { typeName: string }[]; nestedExtensions: any[] }) => {
      this.symbols.set(m.typeName, file);
      m.nestedMessages.forEach(addMessage);
      for (const e of m.nestedEnums) this.symbols.set(e.typeName, file);
      m.nestedExtensions.forEach(addExtension);
    };
    const addExtension = (x: { typeName: string; number: number; extendee: { typeName: string } }) => {
      this.symbols.set(x.typeName, file);
      const byNumber = this.extensions.get(x.extendee.typeName) ?? new Map<number, DescFile>();
      byNumber.set(x.number, file);
      this.extensions.set(x.extendee.typeName, byNumber);
    };
    file.messages.forEach(addMessage);
    for (const e of file.enums) this.symbols.set(e.typeName, file);
    file.extensions.forEach(addExtension);
    for (const s of file.services) {
      this.symbols.set(s.typeName, file);
      for (const m of s.methods) this.symbols.set(`${s.typeName}.${m.name}`, file);
    }
  }

  /** The file and its transitive dependencies, dependencies first, serialized. */
  closure(file: DescFile): Uint8Array[] {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const visit = (f: DescFile) => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      f.dependencies.forEach(visit);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    };
    visit(file);
    return out;
  }
}

function answer(index: DescriptorIndex, req: ServerReflectionRequest): ResponseInit["messageResponse"] {
  const notFound = (what: string) => ({
    case: "errorResponse" as const,
    value: { errorCode: 5, errorMessage: `${what} not found` },
  });
  const files = (file: DescFile | undefined, what: string) =>
    file ? { case: "fileDescriptorResponse" as const, value: { fileDescriptorProto: index.closure(file) } } : notFound(what);
  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.services.map((s) => ({ name: s.typeName })) } };
    case "fileByFilename":
      return files(index.files.get(r.value), `file ${r.value}`);
    case "fileContainingSymbol":
      return files(index.symbols.get(r.value.replace(/^\./, "")), `symbol ${r.value}`);
    case "fileContainingExtension":
      return files(
        index.extensions.get(r.value.containingType)?.get(r.value.extensionNumber),
        `extension ${r.value.containingType}(${r.value.extensionNumber})`,
      );
    case "allExtensionNumbersOfType": {
      const byNumber = index.extensions.get(r.value);
      if (!byNumber && !index.symbols.has(r.value)) return notFound(`type ${r.value}`);
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: r.value, extensionNumber: [...(byNumber?.keys() ?? [])] },
      };
    }
    default:
      return { case: "errorResponse", value: { errorCode: 3, errorMessage: "unsupported reflection request" } };
  }
}

/** Connect implementation of grpc.reflection.v1.ServerReflection for `services`. */
export function reflectionService(services: readonly DescService[]): ServiceImpl<typeof ServerReflection> {
  const index = new DescriptorIndex(services);
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        const res: ResponseInit = { validHost: req.host, originalRequest: req, messageResponse: answer(index, req) };
        yield res;
      }
    },
  };
}
