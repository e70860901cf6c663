/**
 * Text -> index terms and query -> query terms, the same way for every engine.
 *
 * Words come from `Intl.Segmenter` (ICU word boundaries, a Chinese dictionary for Han
 * text). Latin and other spaced scripts become lower-cased NFKC words. CJK text is kept
 * as runs and indexed per character, and a CJK query run is matched as a phrase of its
 * characters: the segmenter's words do not agree between a poem and a query (it cuts
 * `床前明月光` into 床|前|明|月光, so the word `明月` is not in it), while a character
 * phrase finds every substring. (Lucene's CJK analyzers index per character or per
 * bigram for the same reason.) Hashtags are matched whole, as the post service parsed
 * them (kit/text.ts parseHashtags: lower-cased, any script).
 */

const segmenter = new Intl.Segmenter("zh", { granularity: "word" });
const cjkChar = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const cjkRun = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu;
const wordChars = /[\p{L}\p{N}\p{M}_]+/gu;

/** Lower case and NFKC (full-width Latin and digits become ASCII). */
export function normalize(text: string): string {
  return text.normalize("NFKC").toLocaleLowerCase();
}

/** What an engine indexes for one text field. */
export interface AnalyzedText {
  /** Non-CJK words, lower-cased, in order (repeats kept). */
  readonly words: string[];
  /** CJK runs in order, e.g. ["床前明月光", "疑是地上霜"]. */
  readonly cjk: string[];
}

/** Splits text into words and CJK runs. */
export function analyze(text: string): AnalyzedText {
  const words: string[] = [];
  const cjk: string[] = [];
  const norm = normalize(text);
  for (const s of segmenter.segment(norm)) {
    if (!s.isWordLike) continue;
    if (!cjkChar.test(s.segment)) {
      words.push(...(s.segment.match(wordChars) ?? []));
      continue;
    }
    // A word-like segment mixing scripts: its CJK part joins the run, the rest are words.
    for (const part of s.segment.split(cjkRun)) words.push(...(part.match(wordChars) ?? []));
    const runs = s.segment.match(cjkRun) ?? [];
    // Adjacent CJK words of one sentence form one run (the segmenter cut them apart).
    if (runs.length && cjk.length && s.index > 0 && cjkChar.test(norm[s.index - 1]!)) cjk[cjk.length - 1] += runs.shift()!;
    cjk.push(...runs);
  }
  return { words, cjk };
}

/** A parsed search query. */
export interface Query {
  /** Non-CJK words, all required. */
  readonly words: string[];
  /** CJK runs, each required as a substring. */
  readonly cjk: string[];
  /** `#tags`, each required (normalized like the post service's tags). */
  readonly tags: string[];
  /** The last word is still being typed: match it as a prefix (typeahead). */
  readonly prefixLast: boolean;
}

/**
 * Parses a query: `#tag` tokens are hashtags, the rest is analyzed like indexed text.
 * The last word is a prefix unless the query ends in a space or punctuation (what
 * Meilisearch does: the word being typed is a prefix). Returns undefined when nothing
 * searchable is left.
 */
export function parseQuery(raw: string): Query | undefined {
  const tags: string[] = [];
  const rest: string[] = [];
  for (const token of raw.split(/\s+/)) {
    const m = /^[#＃]([\p{L}\p{N}\p{M}_]+)$/u.exec(token);
    if (m) tags.push(m[1]!.toLocaleLowerCase());
    else if (token) rest.push(token);
  }
  const text = rest.join(" ");
  const { words, cjk } = analyze(text);
  if (!words.length && !cjk.length && !tags.length) return undefined;
  const endsInWord = words.length > 0 && /[\p{L}\p{N}\p{M}_]$/u.test(raw) && !cjkChar.test(raw.at(-1)!);
  return { words: [...new Set(words)], cjk: [...new Set(cjk)], tags: [...new Set(tags)], prefixLast: endsInWord };
}

/**
 * Typos allowed in a word of `length` letters: Meilisearch's defaults
 * (typoTolerance.minWordSizeForTypos: one from 5, two from 9).
 */
export function typosAllowed(length: number): number {
  return length >= 9 ? 2 : length >= 5 ? 1 : 0;
}

/**
 * Optimal string alignment distance (Levenshtein plus adjacent transpositions, each one
 * edit, as typo-tolerant engines count them), stopping early above `max`.
 */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    let best = Infinity;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
      best = Math.min(best, d);
    }
    if (best > max) return max + 1;
  }
  return rows[a.length]![b.length]!;
}
