/** Text analysis without servers: words and CJK runs, query parsing, typo budget and distance. */
import { expect, test } from "bun:test";
import { analyze, editDistance, parseQuery, typosAllowed } from "./domain/analyze.ts";

test("captions split into lower-cased words and CJK runs, whatever the segmenter cut", () => {
  expect(analyze("床前明月光，疑是地上霜。See you later, ALLIGATOR! spring_day Ｃａｆé")).toEqual({
    words: ["see", "you", "later", "alligator", "spring_day", "café"],
    cjk: ["床前明月光", "疑是地上霜"],
  });
});

test("queries: #tags in either script, the last word a prefix unless a space or CJK ends it", () => {
  expect(parseQuery("#春天 allig")).toEqual({ words: ["allig"], cjk: [], tags: ["春天"], prefixLast: true });
  expect(parseQuery("alligator ")).toMatchObject({ prefixLast: false });
  expect(parseQuery("reed 明月")).toMatchObject({ words: ["reed"], cjk: ["明月"], prefixLast: false });
  expect(parseQuery("＃Spring")).toMatchObject({ tags: ["spring"] });
  expect(parseQuery("!!! ...")).toBeUndefined();
});

test("typo budget (Meilisearch's defaults) and optimal string alignment distance", () => {
  expect([4, 5, 8, 9].map(typosAllowed)).toEqual([0, 1, 1, 2]);
  expect(editDistance("alligater", "alligator", 2)).toBe(1);
  expect(editDistance("bartedner", "bartender", 2)).toBe(1); // a transposition is one edit
  expect(editDistance("bxrtendrr", "bartender", 2)).toBe(2);
  expect(editDistance("quokka", "kookaburra", 2)).toBe(3); // above the bound: bound + 1
});
