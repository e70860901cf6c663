/**
 * What each demo user posts and says, from the real texts: English quotations and
 * Chinese Tang poems and Song lyrics (demo/data/text), with hashtags in both scripts and
 * @mentions of friends. Deterministic: the same user always gets the same content.
 */
import { readFortunes } from "./data.ts";

const english = ["en-people.fortune", "en-love.fortune", "en-pets.fortune", "en-food.fortune", "en-science.fortune", "en-sports.fortune", "en-wisdom.fortune"];
const tagsByFile: Record<string, string[]> = {
  "en-people.fortune": ["people", "quote"],
  "en-love.fortune": ["love", "quote"],
  "en-pets.fortune": ["pets", "cats"],
  "en-food.fortune": ["food", "coffee"],
  "en-science.fortune": ["science", "space"],
  "en-sports.fortune": ["sports"],
  "en-wisdom.fortune": ["wisdom"],
  "zh-tang300.fortune": ["唐诗", "春天"],
  "zh-song100.fortune": ["宋词", "月亮"],
};

interface Text {
  readonly text: string;
  readonly tags: string[];
}

const texts: Text[] = [];
for (const f of [...english, "zh-tang300.fortune", "zh-song100.fortune"]) {
  for (const t of readFortunes(f)) {
    if ([...t].length <= 1500) texts.push({ text: t, tags: tagsByFile[f]! });
  }
}

/** A caption for user `n`: a real text, its hashtags, and sometimes a friend's @handle. */
export function captionFor(n: number, friend: number | undefined): string {
  const t = texts[(n * 7919) % texts.length]!;
  const mention = friend !== undefined && n % 4 === 0 ? ` @reed_${friend}` : "";
  return `${t.text}\n\n${t.tags.map((x) => `#${x}`).join(" ")}${mention}`;
}

/** A comment for user `n` on a post: a short real text. */
export function commentFor(n: number): string {
  const short = texts.filter((t) => [...t.text].length <= 200);
  return short[(n * 104729) % short.length]!.text;
}
