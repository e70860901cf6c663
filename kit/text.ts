/**
 * Text rules shared by every place people write (captions, comments, chat): length as a
 * person counts it, and the #hashtags and @handles in it. No domain knowledge: a handle
 * is 3-30 of [A-Za-z0-9_], the identity rule, which is also what every @mention parser
 * in the product must agree on.
 */
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Characters as a person counts them (grapheme clusters): "👩‍👩‍👧" is one, "春天" is two. */
export function graphemeLength(text: string): number {
  let n = 0;
  for (const _ of segmenter.segment(text)) n++;
  return n;
}

/**
 * Hashtags: `#` then letters, marks, digits or underscores in any script (`#春天`,
 * `#café`), not all digits, lowercased, deduplicated, in order of first use.
 */
export function parseHashtags(text: string, max = 30): string[] {
  const tags: string[] = [];
  for (const m of text.matchAll(/(?:^|[^\p{L}\p{N}\p{M}_&])#([\p{L}\p{N}\p{M}_]{1,100})/gu)) {
    const tag = m[1]!.toLocaleLowerCase();
    if (!/^\d+$/.test(tag) && !tags.includes(tag)) tags.push(tag);
    if (tags.length === max) break;
  }
  return tags;
}

/** @handles (3-30 of [A-Za-z0-9_], not inside an e-mail address), lowercased, deduplicated. */
export function parseMentions(text: string, max = 20): string[] {
  const handles: string[] = [];
  for (const m of text.matchAll(/(?:^|[^A-Za-z0-9_@.])@([A-Za-z0-9_]{3,30})(?![A-Za-z0-9_])/g)) {
    const h = m[1]!.toLowerCase();
    if (!handles.includes(h)) handles.push(h);
    if (handles.length === max) break;
  }
  return handles;
}
