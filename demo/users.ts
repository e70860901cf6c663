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
