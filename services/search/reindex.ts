/**
 * Rebuilds every search index from the owning services while queries keep answering:
 * `bun services/search/reindex.ts` (same env as the search service).
 *
 * 1. Start a new generation (embedded: a new database file; Meilisearch: new indexes)
 *    and name it in Redis (`rebuild`), so the running search service applies every
 *    event to it as well from its next event on (events.ts): nothing that happens during
 *    the rebuild is missing from it.
 * 2. Read the owners: identity's ListUserIds + BatchGetProfiles (1000 a call), and per
 *    user post's ListAuthorPostIds + BatchGetPosts (500 a call), as a service (which
 *    sees every live post). Writes are versioned, so a post the events wrote first is
 *    not overwritten by an older read.
 * 3. Commit: swap the generation in (embedded: rename CURRENT; Meilisearch: swapIndexes),
 *    bump the request cache's generations (request-cache.ts), then clear the marker. Queries use the old generation until the swap.
 * The profiles and posts read are also written to the results read model
 * (read-model.ts; versioned, so never over a newer snapshot an event wrote).
 * Prints what it indexed and how long it took. Hidden flags (moderation) are not read
 * back yet: issue 20 will own them.
 */
import { openRuntime } from "#kit/runtime.ts";
import { asService } from "#kit/client.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import { loadSearchConfig, type SearchConfig } from "./config.ts";
import { createEngine } from "./context.ts";
import { postDoc, userDoc } from "./domain/docs.ts";
import { rebuildKey } from "./events.ts";
import { SearchReadModel } from "./read-model.ts";
import { viewsKey, writesKey } from "./request-cache.ts";
import type { Runtime } from "#kit/runtime.ts";

/** Rebuilds all indexes; returns the counts written. */
export async function reindex(rt: Runtime<SearchConfig>): Promise<{ users: number; posts: number; ms: number }> {
  const t0 = Date.now();
  const self = asService();
  const identity = rt.client(IdentityService, "identity");
  const post = rt.client(PostService, "post");
  const engine = createEngine(rt.config);
  const readModel = new SearchReadModel(rt.redis);
  await engine.open();
  const next = await engine.rebuild();
  await rt.redis.set(rebuildKey, next.generation, "EX", 24 * 3600);
  let users = 0;
  let posts = 0;
  try {
    let pageToken = "";
    do {
      const page = await identity.listUserIds({ pageToken }, self);
      pageToken = page.nextPageToken;
      if (!page.userIds.length) continue;
      const profiles = (await identity.batchGetProfiles({ userIds: page.userIds }, self)).profiles;
      await readModel.putProfiles(profiles);
      for (const p of profiles) users += (await next.upsertUser(userDoc(p))) ? 1 : 0;
      for (const author of page.userIds) {
        let postToken = "";
        do {
          const ids = await post.listAuthorPostIds({ authorId: author, pageSize: 500, pageToken: postToken }, self);
          postToken = ids.nextPageToken;
          if (!ids.postIds.length) continue;
          const found = (await post.batchGetPosts({ postIds: ids.postIds }, self)).posts;
          await readModel.putPosts(found);
          for (const p of found) posts += (await next.upsertPost(postDoc(p))) ? 1 : 0;
        } while (postToken);
      }
    } while (pageToken);
    await next.commit();
    // Cached results (request-cache.ts) were computed from the old generation and snapshots.
    await rt.redis.incr(writesKey);
    await rt.redis.incr(viewsKey);
  } catch (err) {
    await next.abort();
    throw err;
  } finally {
    await rt.redis.del(rebuildKey);
    await engine.close();
  }
  return { users, posts, ms: Date.now() - t0 };
}

if (import.meta.main) {
  const rt = await openRuntime(loadSearchConfig(), { redis: true });
  try {
    const r = await reindex(rt);
    console.log(`reindexed ${r.users} users and ${r.posts} posts in ${r.ms} ms (${rt.config.meiliUrl ? "meilisearch" : "embedded"})`);
  } finally {
    await rt.close();
  }
}
