/**
 * The mesh: every process Oasis runs, its port and its Protobuf package. This table is
 * deployment data, not domain logic: the kit reads it to resolve upstream URLs, the mesh
 * runner to start processes, the edge to route, and deploy/ mirrors it for Kubernetes.
 * Ports follow DESIGN.md section 2 (the first map); docs/architecture.md lists them.
 */
export interface MeshEntry {
  /** Service name; also its folder under services/ and its database suffix. */
  readonly name: string;
  /** Default port for local runs (`OASIS_<NAME>_PORT` overrides). */
  readonly port: number;
  /** Protobuf package of its contracts, e.g. `oasis.identity.v1`. */
  readonly protoPackage: string;
}

export const mesh: readonly MeshEntry[] = [
  { name: "identity", port: 7001, protoPackage: "oasis.identity.v1" },
  { name: "graph", port: 7002, protoPackage: "oasis.graph.v1" },
  { name: "media", port: 7003, protoPackage: "oasis.media.v1" },
  { name: "post", port: 7004, protoPackage: "oasis.post.v1" },
  { name: "feed", port: 7005, protoPackage: "oasis.feed.v1" },
  { name: "interaction", port: 7006, protoPackage: "oasis.interaction.v1" },
  { name: "notification", port: 7007, protoPackage: "oasis.notification.v1" },
  { name: "chat", port: 7008, protoPackage: "oasis.chat.v1" },
  { name: "wallet", port: 7009, protoPackage: "oasis.wallet.v1" },
  { name: "search", port: 7010, protoPackage: "oasis.search.v1" },
  { name: "moderation", port: 7011, protoPackage: "oasis.moderation.v1" },
];

/** The edge listens here by default (`OASIS_EDGE_PORT` overrides). */
export const edgePort = 8080;

export function meshEntry(name: string): MeshEntry {
  const entry = mesh.find((e) => e.name === name);
  if (!entry) throw new Error(`unknown mesh service "${name}"`);
  return entry;
}
