/**
 * The embedded engine: SQLite FTS5 through `bun:sqlite`, one database file per index
 * generation in `dataDir`, the live one named in `dataDir/CURRENT`. No server; the
 * WAL journal makes every committed write survive a killed process, and an event is
 * acknowledged only after its write committed.
 *
 * Tables: `posts` (id, author, time, version, tombstone and hidden flags, tags) with
 * `posts_fts` (contentless FTS5, rowid = post id; columns words, cjk, tags), `post_tags`
 * (tag, post, time) for hashtag counts and trending, `users` with `users_fts`. Text is
 * analyzed in domain/analyze.ts; FTS5's unicode61 tokenizer then only splits on the
 * spaces we put in (with `_` kept inside words, as in handles and tags).
 *
 * Typo tolerance: each query word of 5+ letters also matches index terms (from the
 * fts5vocab table) with the same first letter within 1 edit (2 from 9 letters); posts
 * matching every word exactly rank before typo-only matches (Meilisearch's "words, typo"
 * order), then newest first. The last word is also a prefix.
 * Why this engine (measured against Orama and MiniSearch): docs/design-notes.md note 19.
 */
import { Database, type Statement } from "bun:sqlite";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { analyze, editDistance, normalize, typosAllowed, type Query } from "./domain/analyze.ts";
import type { HashtagCount, Hit, IndexWriter, PostDoc, PostSearch, Rebuild, SearchEngine, UserDoc, UserSearch } from "./domain/engine.ts";

const dayMs = 24 * 3600 * 1000;
/** Typo variants kept per query word (closest first); more only slows the match. */
const maxVariants = 8;
/**
 * How long the in-memory vocabulary for typo variants may lag the index. fts5vocab
 * scans the whole index (no range seek): ~12 ms per query word on 10,000 posts, so it is
 * read again only after the index changed and at most this often; exact and prefix
 * matches never wait for it.
 */
const vocabRefreshMs = 2_000;

const schema = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS posts (
  post_id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL, created_ms INTEGER NOT NULL,
  visibility INTEGER NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
  hidden INTEGER NOT NULL DEFAULT 0, tags TEXT NOT NULL DEFAULT '[]');
CREATE INDEX IF NOT EXISTS posts_author ON posts (author_id, post_id);
CREATE VIRTUAL TABLE IF NOT EXISTS posts_fts USING fts5 (words, cjk, tags,
  tokenize = "unicode61 remove_diacritics 2 tokenchars '_'", content = '', contentless_delete = 1);
CREATE VIRTUAL TABLE IF NOT EXISTS posts_vocab USING fts5vocab (posts_fts, row);
CREATE TABLE IF NOT EXISTS post_tags (tag TEXT NOT NULL, post_id INTEGER NOT NULL, created_ms INTEGER NOT NULL,
  PRIMARY KEY (tag, post_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS post_tags_post ON post_tags (post_id);
CREATE INDEX IF NOT EXISTS post_tags_time ON post_tags (created_ms);
CREATE TABLE IF NOT EXISTS users (
  user_id INTEGER PRIMARY KEY, handle TEXT NOT NULL, version INTEGER NOT NULL, hidden INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS users_handle ON users (handle);
CREATE VIRTUAL TABLE IF NOT EXISTS users_fts USING fts5 (handle, words, cjk,
  tokenize = "unicode61 remove_diacritics 2 tokenchars '_'", content = '', contentless_delete = 1);
CREATE VIRTUAL TABLE IF NOT EXISTS users_vocab USING fts5vocab (users_fts, row);
`;

const quote = (t: string) => `"${t.replaceAll('"', '""')}"`;
/** The smallest string above every string starting with `s`. */
const after = (s: string) => s + "\u{10FFFF}";
/** CJK runs as FTS text: one token per character. */
const chars = (runs: readonly string[]) => runs.map((r) => [...r].join(" ")).join(" ");

/** One index generation: a database file with its statements. */
class Index implements IndexWriter {
  readonly db: Database;
  private readonly st: Record<string, Statement>;

  constructor(
    readonly path: string,
    private readonly tierWalks = true,
  ) {
    this.db = new Database(path, { create: true, safeIntegers: true, strict: true });
    this.db.run("PRAGMA busy_timeout = 5000");
    this.db.exec(schema);
    const q = (sql: string) => this.db.query(sql);
    this.st = {
      postRow: q("SELECT version, deleted, hidden FROM posts WHERE post_id = $id"),
      putPost: q(`INSERT INTO posts (post_id, author_id, created_ms, visibility, version, deleted, hidden, tags)
        VALUES ($id, $author, $created, $visibility, $version, 0, $hidden, $tags)
        ON CONFLICT (post_id) DO UPDATE SET author_id = excluded.author_id, created_ms = excluded.created_ms,
        visibility = excluded.visibility, version = excluded.version, tags = excluded.tags`),
      ftsDel: q("DELETE FROM posts_fts WHERE rowid = $id"),
      ftsPut: q("INSERT INTO posts_fts (rowid, words, cjk, tags) VALUES ($id, $words, $cjk, $tags)"),
      tagsDel: q("DELETE FROM post_tags WHERE post_id = $id"),
      tagPut: q("INSERT OR IGNORE INTO post_tags (tag, post_id, created_ms) VALUES ($tag, $id, $created)"),
      tomb: q(`INSERT INTO posts (post_id, author_id, created_ms, visibility, version, deleted) VALUES ($id, 0, 0, 0, 0, 1)
        ON CONFLICT (post_id) DO UPDATE SET deleted = 1`),
      hide: q("UPDATE posts SET hidden = $hidden WHERE post_id = $id"),
      postFull: q("SELECT post_id, created_ms, tags, deleted, hidden FROM posts WHERE post_id = $id"),
      userRow: q("SELECT version FROM users WHERE user_id = $id"),
      putUser: q(`INSERT INTO users (user_id, handle, version) VALUES ($id, $handle, $version)
        ON CONFLICT (user_id) DO UPDATE SET handle = excluded.handle, version = excluded.version`),
      userFtsDel: q("DELETE FROM users_fts WHERE rowid = $id"),
      userFtsPut: q("INSERT INTO users_fts (rowid, handle, words, cjk) VALUES ($id, $handle, $words, $cjk)"),
      vocab: q("SELECT term FROM posts_vocab"),
      userVocab: q("SELECT term FROM users_vocab"),
      dataVersion: q("PRAGMA data_version"),
    };
  }

  private tx<T>(fn: () => T): T {
    this.localWrites++;
    return this.db.transaction(fn).immediate();
  }

  async upsertPost(doc: PostDoc): Promise<boolean> {
    return this.tx(() => {
      const row = this.st.postRow!.get({ id: doc.postId }) as { version: bigint; deleted: bigint; hidden: bigint } | null;
      if (row && (row.deleted || Number(row.version) >= doc.version)) return false;
      const hidden = row ? Number(row.hidden) : 0;
      const tags = [...new Set(doc.hashtags.map((t) => normalize(t)))];
      this.st.putPost!.run({ id: doc.postId, author: doc.authorId, created: doc.createdMs, visibility: doc.visibility, version: doc.version, hidden, tags: JSON.stringify(tags) });
      if (row) this.st.ftsDel!.run({ id: doc.postId });
      const text = analyze(doc.caption);
      this.st.ftsPut!.run({ id: doc.postId, words: text.words.join(" "), cjk: chars(text.cjk), tags: tags.join(" ") });
      this.st.tagsDel!.run({ id: doc.postId });
      if (!hidden) for (const tag of tags) this.st.tagPut!.run({ tag, id: doc.postId, created: doc.createdMs });
      return true;
    });
  }

  async deletePost(postId: bigint): Promise<void> {
    this.tx(() => {
      const row = this.st.postRow!.get({ id: postId }) as { deleted: bigint } | null;
      if (row?.deleted) return;
      this.st.tomb!.run({ id: postId });
      if (row) {
        this.st.ftsDel!.run({ id: postId });
        this.st.tagsDel!.run({ id: postId });
      }
    });
  }

  async setPostHidden(postId: bigint, hidden: boolean): Promise<void> {
    this.tx(() => {
      const row = this.st.postFull!.get({ id: postId }) as { created_ms: bigint; tags: string; deleted: bigint } | null;
      if (!row || row.deleted) return;
      this.st.hide!.run({ id: postId, hidden: hidden ? 1 : 0 });
      this.st.tagsDel!.run({ id: postId });
      if (!hidden) for (const tag of JSON.parse(row.tags) as string[]) this.st.tagPut!.run({ tag, id: postId, created: row.created_ms });
    });
  }

  async upsertUser(doc: UserDoc): Promise<boolean> {
    return this.tx(() => {
      const row = this.st.userRow!.get({ id: doc.userId }) as { version: bigint } | null;
      if (row && row.version >= doc.version) return false;
      const handle = normalize(doc.handle);
      this.st.putUser!.run({ id: doc.userId, handle, version: doc.version });
      if (row) this.st.userFtsDel!.run({ id: doc.userId });
      const text = analyze(`${doc.displayName} ${doc.bio}`);
      this.st.userFtsPut!.run({ id: doc.userId, handle, words: text.words.join(" "), cjk: chars(text.cjk) });
      return true;
    });
  }

  /** Per index: its vocabulary, and the variants already computed against that vocabulary (same lifetime). */
  private vocabs = new Map<string, { atMs: number; version: string; byFirst: Map<string, string[]>; variants: Map<string, string[]> }>();
  /** Bumped by this connection's writes (data_version only sees other connections'). */
  private localWrites = 0;

  /** Changes whenever this file's data may have: SQLite's data_version (other connections' commits) and this connection's writes. */
  changeToken(): string {
    return `${this.dataVersion()}:${this.localWrites}`;
  }

  /** SQLite's data_version: changes with other connections' commits only. */
  dataVersion(): string {
    return String((this.st.dataVersion!.get() as { data_version: bigint }).data_version);
  }

  /** Index terms of 4+ letters by first letter, as of at most vocabRefreshMs ago. */
  private vocabulary(users: boolean): { byFirst: Map<string, string[]>; variants: Map<string, string[]> } {
    const key = users ? "users" : "posts";
    const cached = this.vocabs.get(key);
    const version = this.changeToken();
    if (cached && (cached.version === version || Date.now() - cached.atMs < vocabRefreshMs)) return cached;
    const byFirst = new Map<string, string[]>();
    for (const { term } of (users ? this.st.userVocab! : this.st.vocab!).all() as Array<{ term: string }>) {
      if (term.length < 4) continue; // a 5-letter word is at most 1 edit from a 4-letter term
      const first = String.fromCodePoint(term.codePointAt(0)!);
      let list = byFirst.get(first);
      if (!list) byFirst.set(first, (list = []));
      list.push(term);
    }
    const entry = { atMs: Date.now(), version, byFirst, variants: new Map<string, string[]>() };
    this.vocabs.set(key, entry);
    return entry;
  }

  /** Index terms within the allowed typos of `word` (same first letter), closest first. */
  private variants(word: string, users: boolean): string[] {
    const max = typosAllowed([...word].length);
    if (max === 0) return [];
    const first = String.fromCodePoint(word.codePointAt(0)!);
    // The scan costs more than the FTS query itself; a word's variants hold as long as
    // the vocabulary they were computed from (at most vocabRefreshMs).
    const vocab = this.vocabulary(users);
    const memo = vocab.variants.get(word);
    if (memo) return memo;
    const found: Array<[string, number]> = [];
    for (const term of vocab.byFirst.get(first) ?? []) {
      if (term === word) continue;
      const d = editDistance(word, term, max);
      if (d <= max) found.push([term, d]);
    }
    const out = found.sort((a, b) => a[1] - b[1]).slice(0, maxVariants).map(([t]) => t);
    if (vocab.variants.size >= 10_000) vocab.variants.clear();
    vocab.variants.set(word, out);
    return out;
  }

  /** FTS5 MATCH expressions: every term exact (last one also as a prefix), and with typo variants. */
  matchExpressions(query: Query, users: boolean): { exact: string; typo: string | undefined } | undefined {
    const exact: string[] = [];
    const typo: string[] = [];
    let anyVariant = false;
    query.words.forEach((w, i) => {
      const prefix = query.prefixLast && i === query.words.length - 1;
      const base = prefix ? [quote(w), `${quote(w)}*`] : [quote(w)];
      const vs = this.variants(w, users).map(quote);
      anyVariant ||= vs.length > 0;
      exact.push(base.length > 1 ? `(${base.join(" OR ")})` : base[0]!);
      const all = [...base, ...vs];
      typo.push(all.length > 1 ? `(${all.join(" OR ")})` : all[0]!);
    });
    for (const run of query.cjk) {
      const phrase = `cjk : ${quote([...run].join(" "))}`;
      exact.push(phrase);
      typo.push(phrase);
    }
    if (!users) {
      for (const tag of query.tags) {
        exact.push(`tags : ${quote(tag)}`);
        typo.push(`tags : ${quote(tag)}`);
      }
    }
    if (!exact.length) return undefined;
    return { exact: exact.join(" AND "), typo: anyVariant ? typo.join(" AND ") : undefined };
  }

  searchPosts(s: PostSearch): Hit[] {
    const m = this.matchExpressions(s.query, false);
    if (!m) return [];
    const where = ["posts_fts MATCH $match", "p.hidden = 0"];
    const params: Record<string, string | number | bigint> = {};
    if (s.authorId !== undefined) (where.push("p.author_id = $author"), (params.author = s.authorId));
    if (s.afterMs !== undefined) (where.push("p.created_ms >= $after"), (params.after = s.afterMs));
    if (s.beforeMs !== undefined) (where.push("p.created_ms < $before"), (params.before = s.beforeMs));
    const from = `FROM posts_fts f JOIN posts p ON p.post_id = f.rowid WHERE ${where.join(" AND ")}`;
    // Exact matches (tier 1) before typo-only ones (tier 0), each newest first: two walks
    // of FTS5's rowids newest first that stop at the limit, the second only when the
    // first ran out (`typo NOT exact` is the typo-only set). One query ranking both tiers
    // read every match of a common word to sort them (p99 77 ms on 100,000 posts).
    const walk = (match: string, tier: number, last: bigint | undefined, limit: number): Hit[] => {
      const p: Record<string, string | number | bigint> = { ...params, match, limit };
      if (last !== undefined) p.last = last;
      const sql = `SELECT f.rowid AS id ${from} ${last !== undefined ? "AND f.rowid < $last" : ""} ORDER BY f.rowid DESC LIMIT $limit`;
      return (this.db.query(sql).all(p) as Array<{ id: bigint }>).map((r) => ({ id: r.id, cursor: [tier, r.id] }));
    };
    const tier = s.cursor ? Number(s.cursor[0]) : 1;
    const last = s.cursor ? BigInt(s.cursor[1]!) : undefined;
    if (!m.typo) return tier === 1 ? walk(m.exact, 1, last, s.limit) : [];
    if (!this.tierWalks) {
      const p: Record<string, string | number | bigint> = { ...params, match: m.typo, exact: m.exact, limit: s.limit };
      let page = "";
      if (s.cursor) {
        p.tier = tier;
        p.last = last!;
        page = "WHERE tier < $tier OR (tier = $tier AND id < $last)";
      }
      const sql = `SELECT id, tier FROM (SELECT f.rowid AS id, (f.rowid IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH $exact)) AS tier ${from})
        ${page} ORDER BY tier DESC, id DESC LIMIT $limit`;
      return (this.db.query(sql).all(p) as Array<{ id: bigint; tier: bigint }>).map((r) => ({ id: r.id, cursor: [Number(r.tier), r.id] }));
    }
    const typoOnly = `(${m.typo}) NOT (${m.exact})`;
    if (tier !== 1) return walk(typoOnly, 0, last, s.limit);
    const hits = walk(m.exact, 1, last, s.limit);
    if (hits.length < s.limit) hits.push(...walk(typoOnly, 0, undefined, s.limit - hits.length));
    return hits;
  }

  searchUsers(s: UserSearch): Hit[] {
    const m = this.matchExpressions(s.query, true);
    if (!m) return [];
    const head = s.query.words[0] ?? "";
    // Tier: handle equal 0, handle prefix 2, other fields 4; +1 for typo-only matches.
    const exactTier = m.typo ? "+ (f.rowid NOT IN (SELECT rowid FROM users_fts WHERE users_fts MATCH $exact))" : "";
    const params: Record<string, string | number | bigint> = { match: m.typo ?? m.exact, head, headEnd: after(head), limit: s.limit };
    if (m.typo) params.exact = m.exact;
    let page = "";
    if (s.cursor) {
      params.tier = Number(s.cursor[0]);
      params.last = BigInt(s.cursor[1]!);
      page = "WHERE tier > $tier OR (tier = $tier AND id > $last)";
    }
    const sql = `SELECT id, tier FROM (SELECT f.rowid AS id,
        CASE WHEN u.handle = $head THEN 0 WHEN u.handle >= $head AND u.handle < $headEnd THEN 2 ELSE 4 END ${exactTier} AS tier
        FROM users_fts f JOIN users u ON u.user_id = f.rowid WHERE users_fts MATCH $match AND u.hidden = 0)
      ${page} ORDER BY tier, id LIMIT $limit`;
    return (this.db.query(sql).all(params) as Array<{ id: bigint; tier: bigint }>).map((r) => ({ id: r.id, cursor: [Number(r.tier), r.id] }));
  }

  searchHashtags(prefix: string, limit: number): HashtagCount[] {
    const day = Date.now() - dayMs;
    const rows = this.db
      .query(`SELECT tag, count(*) AS n, sum(created_ms >= $day) AS recent FROM post_tags WHERE tag >= $lo AND tag < $hi
        GROUP BY tag ORDER BY n DESC, tag LIMIT $limit`)
      .all({ day, lo: prefix, hi: after(prefix), limit }) as Array<{ tag: string; n: bigint; recent: bigint }>;
    return rows.map((r) => ({ name: r.tag, posts: Number(r.n), recent: Number(r.recent), score: 0 }));
  }

  trendingHashtags(nowMs: number, limit: number): HashtagCount[] {
    const rows = this.db
      .query(`SELECT tag, sum(created_ms >= $day) AS recent, sum(created_ms < $day) AS prior FROM post_tags
        WHERE created_ms >= $since AND created_ms < $now GROUP BY tag HAVING recent > 0`)
      .all({ day: nowMs - dayMs, since: nowMs - 8 * dayMs, now: nowMs + 60_000 }) as Array<{ tag: string; recent: bigint; prior: bigint }>;
    const top = rows
      .map((r) => ({ name: r.tag, recent: Number(r.recent), score: Number(r.recent) - Number(r.prior) / 7 }))
      .sort((a, b) => b.score - a.score || b.recent - a.recent || (a.name < b.name ? -1 : 1))
      .slice(0, limit);
    const count = this.db.query("SELECT count(*) AS n FROM post_tags WHERE tag = $tag");
    return top.map((t) => ({ ...t, posts: Number((count.get({ tag: t.name }) as { n: bigint }).n) }));
  }

  allIds(): { posts: bigint[]; users: bigint[] } {
    const posts = (this.db.query("SELECT post_id AS id FROM posts WHERE deleted = 0 ORDER BY post_id").all() as Array<{ id: bigint }>).map((r) => r.id);
    const users = (this.db.query("SELECT user_id AS id FROM users ORDER BY user_id").all() as Array<{ id: bigint }>).map((r) => r.id);
    return { posts, users };
  }

  close(): void {
    this.db.close();
  }
}

/**
 * The embedded SearchEngine. `dataDir/CURRENT` names the live generation's file; a
 * rebuild writes `index-<generation>.db` beside it and commits by renaming a new
 * CURRENT into place. Every process using the directory checks CURRENT every
 * `reloadMs` and switches to the new file (the service follows a reindex run by
 * another process).
 */
export class EmbeddedEngine implements SearchEngine {
  readonly kind = "embedded";
  private index!: Index;
  private timer: ReturnType<typeof setInterval> | undefined;

  /**
   * `tierWalks` (OASIS_SEARCH_TIER_WALKS, default on): a typo-tolerant post query walks
   * the exact tier, then the typo-only one, each newest first up to the limit; off: one
   * query ranks every match of both tiers (the A/B of bench/search.ts).
   */
  constructor(
    private readonly dataDir: string,
    private readonly reloadMs = 500,
    private readonly tierWalks = true,
  ) {}

  private currentName(): string | undefined {
    const p = join(this.dataDir, "CURRENT");
    return existsSync(p) ? readFileSync(p, "utf8").trim() : undefined;
  }

  private setCurrent(name: string): void {
    const tmp = join(this.dataDir, `CURRENT.${process.pid}.tmp`);
    writeFileSync(tmp, name);
    renameSync(tmp, join(this.dataDir, "CURRENT"));
  }

  async open(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    let name = this.currentName();
    if (!name) {
      name = "index-0.db";
      new Index(join(this.dataDir, name), this.tierWalks).close();
      this.setCurrent(name);
    }
    this.index = new Index(join(this.dataDir, name), this.tierWalks);
    this.timer = setInterval(() => this.follow(), this.reloadMs);
  }

  /** Switches to the generation CURRENT names, if another process committed one. */
  follow(): void {
    const name = this.currentName();
    if (!name || join(this.dataDir, name) === this.index.path) return;
    const old = this.index;
    this.index = new Index(join(this.dataDir, name), this.tierWalks);
    old.close();
  }

  /** The live file's name and its change token: another file after a reindex, another token after any commit to it. */
  changeToken(): string {
    return `${this.index.path}:${this.index.changeToken()}`;
  }

  externalChangeToken(): string {
    return `${this.index.path}:${this.index.dataVersion()}`;
  }

  upsertPost(doc: PostDoc) {
    return this.index.upsertPost(doc);
  }
  deletePost(postId: bigint) {
    return this.index.deletePost(postId);
  }
  setPostHidden(postId: bigint, hidden: boolean) {
    return this.index.setPostHidden(postId, hidden);
  }
  upsertUser(doc: UserDoc) {
    return this.index.upsertUser(doc);
  }
  async searchPosts(s: PostSearch) {
    return this.index.searchPosts(s);
  }
  async searchUsers(s: UserSearch) {
    return this.index.searchUsers(s);
  }
  async searchHashtags(prefix: string, limit: number) {
    return this.index.searchHashtags(prefix, limit);
  }
  async trendingHashtags(nowMs: number, limit: number) {
    return this.index.trendingHashtags(nowMs, limit);
  }
  async allIds() {
    return this.index.allIds();
  }

  async rebuild(generation = `${Date.now()}`): Promise<Rebuild> {
    const name = `index-${generation}.db`;
    const index = new Index(join(this.dataDir, name), this.tierWalks);
    const engine = this;
    return {
      generation,
      upsertPost: (d) => index.upsertPost(d),
      deletePost: (id) => index.deletePost(id),
      setPostHidden: (id, h) => index.setPostHidden(id, h),
      upsertUser: (d) => index.upsertUser(d),
      async commit() {
        index.close();
        engine.setCurrent(name);
        engine.follow();
        // Older generations are no longer named by CURRENT; processes that still had
        // one open switch within reloadMs, and an unlinked file stays readable until then.
        for (const f of readdirSync(engine.dataDir)) {
          if (/^index-.*\.db(-wal|-shm)?$/.test(f) && !f.startsWith(name)) rmSync(join(engine.dataDir, f), { force: true });
        }
      },
      async release() {
        index.close();
      },
      async abort() {
        index.close();
        for (const suffix of ["", "-wal", "-shm"]) rmSync(join(engine.dataDir, name + suffix), { force: true });
      },
    };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.index?.close();
  }
}
