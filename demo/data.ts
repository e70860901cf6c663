/**
 * Paths of the real input data in demo/data (copied from the shared data set with its
 * SOURCES.md lines), and readers for its formats. Tests, benchmarks and the demo loader
 * all read their input through here.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

export const dataDir = join(import.meta.dir, "data");

/** The Reed98 Facebook graph: 962 users (0..961), 18,812 undirected edges. */
export const reed98Path = join(dataDir, "graphs", "socfb-Reed98.edges");

/** Undirected edges `[u, v]` of an edge-list file (`u v` per line, `%`/`#` comments). */
export function readEdges(path = reed98Path): Array<[number, number]> {
  const edges: Array<[number, number]> = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const t = line.trim();
    if (!t || t.startsWith("%") || t.startsWith("#")) continue;
    const [a, b] = t.split(/[\s,]+/).map(Number);
    if (Number.isInteger(a) && Number.isInteger(b)) edges.push([a!, b!]);
  }
  return edges;
}

/** Entries of a fortune file (separated by lines holding only `%`), trimmed, non-empty. */
export function readFortunes(name: string): string[] {
  return readFileSync(join(dataDir, "text", name), "utf8")
    .split(/^%$/m)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Every fortune file's name. */
export function fortuneFiles(): string[] {
  return readdirSync(join(dataDir, "text")).filter((f) => f.endsWith(".fortune")).sort();
}

/** Path of a real image by file name. */
export function imagePath(name: string): string {
  return join(dataDir, "images", name);
}

/** The real photographs (excluding the deliberately broken and animated test files). */
export const photoNames = ["astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "rocket.jpg", "brick.png", "grass.png"] as const;
