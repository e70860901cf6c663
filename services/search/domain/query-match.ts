/**
 * Which queries a new post can change (per-query invalidation, design note 32): a post
 * appears in a query's results only if it matches the query, so a post_created event
 * needs to end only the cached pages of queries it matches. `couldMatch` answers that
 * for one post and one parsed query without the engine, and errs on the side of yes
 * (a false yes costs one recomputed page, a false no a stale one):
 * - a query word matches a post word (both with diacritics removed, as FTS5's unicode61
 *   tokenizer with remove_diacritics indexes them; a word a mark splits also counts as
 *   its pieces) that is equal, that starts with it when it is the
 *   last word of a prefix query, or that has the same first letter and is within the
 *   typos the word allows (the engine's variants, store.ts, are a subset of these: it
 *   keeps the 8 closest of the index's vocabulary);
 * - a CJK run matches when it is a substring of the post's CJK characters run together
 *   (the engine's phrase of characters is a subset);
 * - a tag matches a tag of the post (normalized as the engine indexes them);
 * - filters (author, time) are ignored: they only narrow what matches.
 * The embedded engine's rules only: Meilisearch also splits and joins words and counts
 * typos differently, so with it every post event ends every page (events.ts).
 */
import { analyze, editDistance, normalize, typosAllowed, type Query } from "./analyze.ts";

/** A post's text as the matcher needs it. */
export interface PostTerms {
  readonly words: ReadonlySet<string>;
  /** Every CJK character of the caption, in order, runs joined. */
  readonly cjk: string;
  readonly tags: ReadonlySet<string>;
}

/** Without diacritics (NFD, combining marks dropped). */
const fold = (w: string) => w.normalize("NFD").replace(/\p{M}/gu, "");

/** Analyzes a post's caption and tags once for matching against many queries. */
export function postTerms(caption: string, hashtags: readonly string[]): PostTerms {
  const text = analyze(caption);
  const words = new Set<string>();
  for (const w of text.words) {
    words.add(fold(w));
    if (/\p{M}/u.test(w)) for (const piece of w.split(/\p{M}+/u)) if (piece) words.add(fold(piece));
  }
  return { words, cjk: text.cjk.join(""), tags: new Set(hashtags.map((t) => fold(normalize(t)))) };
}

const firstOf = (s: string) => String.fromCodePoint(s.codePointAt(0)!);

function wordMatches(word: string, prefix: boolean, post: PostTerms): boolean {
  const w = fold(word);
  if (post.words.has(w)) return true;
  const max = typosAllowed([...w].length);
  const first = firstOf(w);
  for (const x of post.words) {
    if (prefix && x.startsWith(w)) return true;
    if (max > 0 && firstOf(x) === first && editDistance(w, x, max) <= max) return true;
  }
  return false;
}

/** False only when `post` cannot be among the results of `query` (any filters, any page). */
export function couldMatch(query: Query, post: PostTerms): boolean {
  for (const tag of query.tags) if (!post.tags.has(fold(tag))) return false;
  for (const run of query.cjk) if (!post.cjk.includes(run)) return false;
  return query.words.every((w, i) => wordMatches(w, query.prefixLast && i === query.words.length - 1, post));
}
