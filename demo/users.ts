/**
 * The demo's people: the 962 members of the Reed98 graph (ids 0..961), as DeathStarBench
 * registers them, with handles `reed_<n>`, a shared demo password, a bio taken from the
 * real texts (English quotations, Tang and Song poems), and every tenth account private.
 */
import { readEdges, readFortunes } from "./data.ts";

export const demoPassword = "oasis-demo-password";

export interface DemoUser {
  /** Reed98 member number. */
  readonly n: number;
  readonly handle: string;
  readonly email: string;
  readonly displayName: string;
  readonly bio: string;
  readonly private: boolean;
}

/** The Reed98 members in id order and the undirected edges between them. */
export function demoGraph(): { users: DemoUser[]; edges: Array<[number, number]> } {
  const edges = readEdges();
  const ids = [...new Set(edges.flat())].sort((a, b) => a - b);
  const texts = [
    ...readFortunes("zh-tang300.fortune"),
    ...readFortunes("en-people.fortune"),
    ...readFortunes("zh-song100.fortune"),
    ...readFortunes("en-wisdom.fortune"),
  ].filter((t) => [...t].length <= 300);
  const users = ids.map((n) => ({
    n,
    handle: `reed_${n}`,
    email: `reed_${n}@demo.oasis.example`,
    displayName: `Reed member ${n}`,
    bio: texts[n % texts.length]!,
    private: n % 10 === 7,
  }));
  return { users, edges };
}

/**
 * The demo's follows: each edge both ways (`[u, v]` and `[v, u]`), in an order that spreads
 * the users over the calls in flight. The edge file lists each user's edges together (the
 * first 70 all touch one member), so in file order every follow in flight took the same
 * two rows of graph's `counts` and waited for the others' commits one by one. A fixed
 * shuffle (xorshift32, same seed every run) keeps the set of requests and each request
 * the same; only their order changes. `order: "file"` keeps the file's order (stop 26's
 * loader, for bench/writes.ts's comparison).
 */
export function demoFollows(edges: ReadonlyArray<readonly [number, number]>, order: "spread" | "file" = "spread"): Array<[number, number]> {
  const follows = edges.flatMap(([u, v]) => [[u, v], [v, u]] as Array<[number, number]>);
  return order === "file" ? follows : shuffled(follows);
}

/**
 * `xs` shuffled in place and returned: Fisher-Yates driven by xorshift32 (Marsaglia,
 * "Xorshift RNGs", 2003; shifts 13, 17, 5) from `seed`, so the same input and seed give
 * the same order on every run (the demo's follows, bench/writes.ts's pairs).
 */
export function shuffled<T>(xs: T[], seed = 0x9e3779b9): T[] {
  let s = seed >>> 0 || 1;
  for (let i = xs.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}
