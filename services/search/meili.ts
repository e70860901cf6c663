/**
 * The Meilisearch engine (OASIS_MEILI_URL, OASIS_MEILI_KEY), through the official
 * `meilisearch` client. Indexes `<prefix>posts` and `<prefix>users`; settings applied at
 * open: searchable attributes in rank order, filterable and sortable attributes, the
 * ranking rules words > typo > proximity > attribute > sort > exactness (Meilisearch's
 * defaults, then newest first), typo tolerance one typo from 5 letters, two from 9.
 *
 * CJK text is sent twice: as written (Meilisearch segments Chinese with jieba) and as
 * space-separated characters in `cjk`, which a query run matches as a phrase; jieba
 * too cuts `床前明月光` so that `明月` is not one of its words (domain/analyze.ts).
 * Versions and tombstones live in the documents (`version`, `deleted`): the indexing
 * consumer handles one event at a time, so read-then-write is not racy.
 * Paging: Meilisearch has no keyset over relevance, so the cursor is the offset after
 * the hit plus a `created_ms` bound fixed by the first page (posts created later never
 * shift the offsets).
 */
import { Meilisearch, type Index } from "meilisearch";
import { analyze, normalize, type Query } from "./domain/analyze.ts";
import type { Cursor, HashtagCount, Hit, IndexWriter, PostDoc, PostSearch, Rebuild, SearchEngine, UserDoc, UserSearch } from "./domain/engine.ts";

const dayMs = 24 * 3600 * 1000;

interface PostRecord {
  id: string;
  author_id: string;
  text: string;
  cjk: string;
  tags: string[];
  created_ms: number;
  visibility: number;
  version: number;
  deleted: boolean;
  hidden: boolean;
}

interface UserRecord {
  id: string;
  handle: string;
  text: string;
  cjk: string;
  version: string;
  hidden: boolean;
}

const chars = (runs: readonly string[]) => runs.map((r) => [...r].join(" ")).join(" ");

const postSettings = {
  searchableAttributes: ["tags", "text", "cjk"],
  filterableAttributes: ["author_id", "created_ms", "tags", "deleted", "hidden"],
  sortableAttributes: ["created_ms"],
  rankingRules: ["words", "typo", "proximity", "attribute", "sort", "exactness", "created_ms:desc"],
  typoTolerance: { enabled: true, minWordSizeForTypos: { oneTypo: 5, twoTypos: 9 } },
  faceting: { maxValuesPerFacet: 1000 },
  pagination: { maxTotalHits: 10_000 },
};

const userSettings = {
  searchableAttributes: ["handle", "text", "cjk"],
  filterableAttributes: ["hidden"],
  rankingRules: ["words", "typo", "proximity", "attribute", "exactness"],
  typoTolerance: { enabled: true, minWordSizeForTypos: { oneTypo: 5, twoTypos: 9 } },
};

/** The query as Meilisearch's `q`: words, then each CJK run as a phrase of its characters. */
function queryString(q: Query): string {
  return [...q.words, ...q.cjk.map((r) => `"${[...r].join(" ")}"`)].join(" ") + (q.prefixLast ? "" : " ");
}

const str = (s: string) => JSON.stringify(s);

class Writer implements IndexWriter {
  constructor(
    readonly posts: Index<PostRecord>,
    readonly users: Index<UserRecord>,
  ) {}

  private async post(id: bigint): Promise<PostRecord | undefined> {
    try {
      return (await this.posts.getDocument(String(id))) as PostRecord;
    } catch {
      return undefined;
    }
  }

  async upsertPost(doc: PostDoc): Promise<boolean> {
    const old = await this.post(doc.postId);
    if (old && (old.deleted || old.version >= doc.version)) return false;
    const text = analyze(doc.caption);
    const rec: PostRecord = {
      id: String(doc.postId),
      author_id: String(doc.authorId),
      text: doc.caption,
      cjk: chars(text.cjk),
      tags: [...new Set(doc.hashtags.map(normalize))],
      created_ms: doc.createdMs,
      visibility: doc.visibility,
      version: doc.version,
      deleted: false,
      hidden: old?.hidden ?? false,
    };
    await this.posts.addDocuments([rec], { primaryKey: "id" }).waitTask();
    return true;
  }

  async deletePost(postId: bigint): Promise<void> {
    const old = await this.post(postId);
    if (old?.deleted) return;
    const tomb: PostRecord = { id: String(postId), author_id: "0", text: "", cjk: "", tags: [], created_ms: 0, visibility: 0, version: 0, deleted: true, hidden: false };
    await this.posts.addDocuments([tomb], { primaryKey: "id" }).waitTask();
  }

  async setPostHidden(postId: bigint, hidden: boolean): Promise<void> {
    const old = await this.post(postId);
    if (!old || old.deleted) return;
    await this.posts.updateDocuments([{ id: String(postId), hidden }], { primaryKey: "id" }).waitTask();
  }

  async upsertUser(doc: UserDoc): Promise<boolean> {
    let old: UserRecord | undefined;
    try {
      old = (await this.users.getDocument(String(doc.userId))) as UserRecord;
    } catch {
      old = undefined;
    }
    if (old && BigInt(old.version) >= doc.version) return false;
    const text = analyze(`${doc.displayName} ${doc.bio}`);
    const rec: UserRecord = { id: String(doc.userId), handle: normalize(doc.handle), text: `${doc.displayName} ${doc.bio}`, cjk: chars(text.cjk), version: String(doc.version), hidden: old?.hidden ?? false };
    await this.users.addDocuments([rec], { primaryKey: "id" }).waitTask();
    return true;
  }
}

export class MeiliEngine implements SearchEngine {
  readonly kind = "meilisearch";
  private readonly client: Meilisearch;
  private writer: Writer;

  constructor(
    url: string,
    apiKey: string | undefined,
    private readonly prefix: string,
  ) {
    this.client = new Meilisearch({ host: url, apiKey });
    this.writer = this.writerFor("");
  }

  private writerFor(suffix: string): Writer {
    return new Writer(this.client.index<PostRecord>(`${this.prefix}posts${suffix}`), this.client.index<UserRecord>(`${this.prefix}users${suffix}`));
  }

  private async setUp(w: Writer): Promise<void> {
    for (const [index, settings] of [
      [w.posts, postSettings],
      [w.users, userSettings],
    ] as const) {
      await this.client.createIndex(index.uid, { primaryKey: "id" }).waitTask();
      await index.updateSettings(settings).waitTask();
    }
  }

  async open(): Promise<void> {
    await this.setUp(this.writer);
  }

  upsertPost(doc: PostDoc) {
    return this.writer.upsertPost(doc);
  }
  deletePost(postId: bigint) {
    return this.writer.deletePost(postId);
  }
  setPostHidden(postId: bigint, hidden: boolean) {
    return this.writer.setPostHidden(postId, hidden);
  }
  upsertUser(doc: UserDoc) {
    return this.writer.upsertUser(doc);
  }

  async searchPosts(s: PostSearch): Promise<Hit[]> {
    const offset = s.cursor ? Number(s.cursor[0]) : 0;
    const bound = s.cursor ? Number(s.cursor[1]) : Date.now();
    const filter = ["deleted = false", "hidden = false", `created_ms <= ${bound}`];
    if (s.authorId !== undefined) filter.push(`author_id = ${str(String(s.authorId))}`);
    if (s.afterMs !== undefined) filter.push(`created_ms >= ${s.afterMs}`);
    if (s.beforeMs !== undefined) filter.push(`created_ms < ${s.beforeMs}`);
    for (const tag of s.query.tags) filter.push(`tags = ${str(tag)}`);
    const res = await this.writer.posts.search(queryString(s.query), { filter: filter.join(" AND "), offset, limit: s.limit, attributesToRetrieve: ["id"] });
    return res.hits.map((h, i) => ({ id: BigInt(h.id), cursor: [offset + i + 1, bound] as Cursor }));
  }

  async searchUsers(s: UserSearch): Promise<Hit[]> {
    const offset = s.cursor ? Number(s.cursor[0]) : 0;
    const res = await this.writer.users.search(queryString(s.query), { filter: "hidden = false", offset, limit: s.limit, attributesToRetrieve: ["id"] });
    return res.hits.map((h, i) => ({ id: BigInt(h.id), cursor: [offset + i + 1] as Cursor }));
  }

  /** Tag counts under `filter` (facet distribution over live posts). */
  private async tagCounts(filter: string): Promise<Record<string, number>> {
    const res = await this.writer.posts.search("", { filter: `deleted = false AND hidden = false AND ${filter}`, limit: 0, facets: ["tags"] });
    return res.facetDistribution?.tags ?? {};
  }

  async searchHashtags(prefix: string, limit: number): Promise<HashtagCount[]> {
    const res = await this.writer.posts.searchForFacetValues({ facetName: "tags", facetQuery: prefix, filter: "deleted = false AND hidden = false" });
    const recent = await this.tagCounts(`created_ms >= ${Date.now() - dayMs}`);
    return res.facetHits
      .filter((h) => h.value.startsWith(prefix))
      .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1))
      .slice(0, limit)
      .map((h) => ({ name: h.value, posts: h.count, recent: recent[h.value] ?? 0, score: 0 }));
  }

  async trendingHashtags(nowMs: number, limit: number): Promise<HashtagCount[]> {
    const [recent, prior, total] = await Promise.all([
      this.tagCounts(`created_ms >= ${nowMs - dayMs}`),
      this.tagCounts(`created_ms >= ${nowMs - 8 * dayMs} AND created_ms < ${nowMs - dayMs}`),
      this.tagCounts("created_ms >= 0"),
    ]);
    return Object.entries(recent)
      .map(([name, n]) => ({ name, recent: n, score: n - (prior[name] ?? 0) / 7, posts: total[name] ?? n }))
      .sort((a, b) => b.score - a.score || b.recent - a.recent || (a.name < b.name ? -1 : 1))
      .slice(0, limit);
  }

  async allIds(): Promise<{ posts: bigint[]; users: bigint[] }> {
    const all = async (index: Index<any>, filter: string) => {
      const out: bigint[] = [];
      for (let offset = 0; ; offset += 1000) {
        const page = await index.getDocuments({ filter, fields: ["id"], offset, limit: 1000 });
        out.push(...page.results.map((d: { id: string }) => BigInt(d.id)));
        if (page.results.length < 1000) break;
      }
      return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    };
    return { posts: await all(this.writer.posts, "deleted = false"), users: await all(this.writer.users, "hidden = false OR hidden = true") };
  }

  async rebuild(generation = `${Date.now()}`): Promise<Rebuild> {
    const w = this.writerFor(`_${generation}`);
    await this.setUp(w);
    const client = this.client;
    const live = this.writer;
    return {
      generation,
      upsertPost: (d) => w.upsertPost(d),
      deletePost: (id) => w.deletePost(id),
      setPostHidden: (id, h) => w.setPostHidden(id, h),
      upsertUser: (d) => w.upsertUser(d),
      async commit() {
        await client.swapIndexes([
          { indexes: [live.posts.uid, w.posts.uid], rename: false },
          { indexes: [live.users.uid, w.users.uid], rename: false },
        ]).waitTask();
        await client.deleteIndex(w.posts.uid).waitTask();
        await client.deleteIndex(w.users.uid).waitTask();
      },
      async release() {},
      async abort() {
        await client.deleteIndex(w.posts.uid).waitTask();
        await client.deleteIndex(w.users.uid).waitTask();
      },
    };
  }

  /** Swaps happen on the server: nothing to pick up. */
  follow(): void {}

  /** None: Meilisearch's writes are seen through search:writes (request-cache.ts). */
  changeToken(): string {
    return "";
  }

  externalChangeToken(): string {
    return "";
  }

  async close(): Promise<void> {}
}
