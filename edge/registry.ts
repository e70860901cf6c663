/**
 * The RPCs the edge can route: every method of every Oasis service, keyed by its Connect
 * path (`/oasis.identity.v1.IdentityService/GetProfile`), with its access level and the
 * mesh service that serves it (from the package: `oasis.identity.v1` -> identity).
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Access, methodAccess } from "#kit/auth.ts";

export interface RoutedMethod {
  readonly method: DescMethod;
  readonly access: Access;
  /** Mesh service name (mesh.config.ts) that serves it. */
  readonly upstream: string;
  /** `/package.Service/Method`. */
  readonly path: string;
}

/** Mesh service of a proto package: `oasis.identity.v1` -> `identity`. */
export function upstreamOf(service: DescService): string {
  const [root, domain] = service.typeName.split(".");
  if (root !== "oasis" || !domain) throw new Error(`not an Oasis service: ${service.typeName}`);
  return domain;
}

/**
 * Methods the edge serves only through a route of its own (edge/media-routes.ts: the
 * upload reads a 25 MiB body under the upload rate limit), never as a generic RPC.
 */
export const edgeOwnedPaths: ReadonlySet<string> = new Set(["/oasis.media.v1.MediaService/UploadMedia"]);

export class MethodRegistry {
  private readonly byPath = new Map<string, RoutedMethod>();

  constructor(services: readonly DescService[], upstreams: readonly string[]) {
    for (const s of services.filter((x) => upstreams.includes(upstreamOf(x)))) {
      for (const m of s.methods) {
        const path = `/${s.typeName}/${m.name}`;
        this.byPath.set(path, { method: m, access: methodAccess(m), upstream: upstreamOf(s), path });
      }
    }
  }

  /** The method at a Connect path, unless unknown, internal to the mesh or routed by the edge itself. */
  public(path: string): RoutedMethod | undefined {
    const m = this.byPath.get(path);
    return m && m.access !== Access.INTERNAL && !edgeOwnedPaths.has(path) ? m : undefined;
  }

  /** Any method, internal ones included (for routes the edge itself implements). */
  method(path: string): RoutedMethod | undefined {
    return this.byPath.get(path);
  }

  all(): RoutedMethod[] {
    return [...this.byPath.values()];
  }
}
