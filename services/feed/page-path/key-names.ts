/**
 * The names of the feed's Redis keys a page reads, made once and kept (design note 62).
 * A changed home page names ~100 keys (pieces.ts pageKeys: per post its post, counters,
 * marker, likers, the viewer's refer marker and state; per author the profile and the viewer's pair) and held.ts names ~35 of them again to look its held
 * pieces up; built per read, each name was a fresh concatenation that a Set or Map lookup
 * (tracking.ts `unwatched`, held.ts's LRU) had to flatten and hash. Kept here, the same
 * string object answers every read that names the key: its hash is computed once, and a
 * lookup finds it by identity (the engine makes a concatenation flat, and caches its hash,
 * the first time it is hashed, in the string object kept here). Only the names are kept (no values, nothing a change to
 * Redis could make stale), so forgetting them is always safe: each table is emptied when
 * it passes its bound and fills again as pages are read.
 */

/** The names of one post's keys that are the same for every viewer. */
export interface PostKeyNames {
  readonly post: string;
  readonly counts: string;
  readonly whole: string;
  readonly likers: string;
}

/** The names of one viewer's own keys (their relationship set, and per post or author their pieces). */
export class ViewerKeyNames {
  /** `rm:rels:<viewer>` (pieces.ts relSetKey). */
  readonly relSet: string;
  private readonly refs = new Map<string, string>();
  private readonly states = new Map<string, string>();
  private readonly rels = new Map<string, string>();

  constructor(
    private readonly prefix: string,
    readonly viewer: string,
    private readonly max: number,
  ) {
    this.relSet = `${prefix}rm:rels:${viewer}`;
  }

  /** `rm:ref:<viewer>:<post>`: the viewer's posts referring to `post`. */
  ref(post: string): string {
    return name(this.refs, post, this.max, () => `${this.prefix}rm:ref:${this.viewer}:${post}`);
  }

  /** `rm:state:<viewer>:<post>`: what the viewer did to `post`. */
  state(post: string): string {
    return name(this.states, post, this.max, () => `${this.prefix}rm:state:${this.viewer}:${post}`);
  }

  /** `rm:rel:<viewer>:<user>`: how the viewer relates to `user`. */
  rel(user: string): string {
    return name(this.rels, user, this.max, () => `${this.prefix}rm:rel:${this.viewer}:${user}`);
  }
}

/** `table`'s entry for `id`, made by `make` (the table emptied first when it holds `max`). */
function name<V>(table: Map<string, V>, id: string, max: number, make: () => V): V {
  let got = table.get(id);
  if (got === undefined) {
    if (table.size >= max) table.clear();
    got = make();
    table.set(id, got);
  }
  return got;
}

/** Names kept per kind at most before that kind's table is emptied (per viewer table: `perViewer`). */
export const keyNamesMax = 100_000;

export class KeyNames {
  private readonly posts = new Map<string, PostKeyNames>();
  private readonly authors = new Map<string, string>();
  private readonly viewers = new Map<string, ViewerKeyNames>();
  /** `rm:page-path`, `celebs` and, per kind and owner, the timelines. */
  readonly settings: string;
  readonly celebs: string;
  private readonly timelines = new Map<string, string>();

  /** `prefix`: the feed's key prefix (`[<ns>:]oasis:feed:`). */
  constructor(
    readonly prefix: string,
    private readonly max = keyNamesMax,
    private readonly perViewer = 2_000,
  ) {
    this.settings = `${prefix}rm:page-path`;
    this.celebs = `${prefix}celebs`;
  }

  /** The names of post `id`'s keys. */
  post(id: string): PostKeyNames {
    const P = this.prefix;
    return name(this.posts, id, this.max, () => ({ post: `${P}rm:post:${id}`, counts: `${P}rm:counts:${id}`, whole: `${P}rm:whole:${id}`, likers: `${P}rm:likers:${id}` }));
  }

  /** `rm:author:<id>`: the author's profile. */
  author(id: string): string {
    return name(this.authors, id, this.max, () => `${this.prefix}rm:author:${id}`);
  }

  /** `<kind>:<owner>`: a home (`ht`) or user (`ut`) timeline. */
  timeline(kind: string, owner: string): string {
    return name(this.timelines, `${kind}${owner}`, this.max, () => `${this.prefix}${kind}:${owner}`);
  }

  /** The viewer's own keys' names. */
  viewer(id: string): ViewerKeyNames {
    return name(this.viewers, id, this.max / 10, () => new ViewerKeyNames(this.prefix, id, this.perViewer));
  }
}
