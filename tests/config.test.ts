/**
 * Every service's config refuses a bad number at load with a message naming the
 * variable (kit/env.ts), where the hand-rolled parsers used to turn it into NaN
 * (feed, graph, media), read "12abc" as 12 (identity) or clamp 0 to 1 (wallet).
 */
import { expect, test } from "bun:test";
import { loadEdgeConfig } from "../edge/config.ts";
import { loadChatConfig } from "../services/chat/config.ts";
import { loadFeedConfig } from "../services/feed/config.ts";
import { loadGraphConfig } from "../services/graph/config.ts";
import { loadIdentityConfig } from "../services/identity/config.ts";
import { loadInteractionConfig } from "../services/interaction/config.ts";
import { loadMediaConfig } from "../services/media/config.ts";
import { loadNotificationConfig } from "../services/notification/config.ts";
import { loadPostConfig } from "../services/post/config.ts";
import { loadSearchConfig } from "../services/search/config.ts";
import { loadWalletConfig } from "../services/wallet/config.ts";

const base = { OASIS_DEV: "1", OASIS_IDENTITY_KEK: Buffer.alloc(32, 7).toString("base64") };

test.each([
  ["feed", (e: Record<string, string>) => loadFeedConfig(e), "OASIS_FEED_HOME_CAP", "eight hundred", "an integer >= 1"],
  ["graph", (e: Record<string, string>) => loadGraphConfig(e), "OASIS_GRAPH_FOLLOWER_CACHE_MAX", "1e5x", "an integer >= 1"],
  ["graph", (e: Record<string, string>) => loadGraphConfig(e), "OASIS_GRAPH_POINT_LOOKUP_MAX", "four", "an integer >= 0"],
  ["identity", (e: Record<string, string>) => loadIdentityConfig(e), "OASIS_IDENTITY_ACCESS_TTL_SECONDS", "12abc", "an integer >= 1"],
  ["interaction", (e: Record<string, string>) => loadInteractionConfig(e), "OASIS_INTERACTION_RECONCILE_MS", "-5", "an integer >= 1"],
  ["media", (e: Record<string, string>) => loadMediaConfig(e), "OASIS_MEDIA_COMPACT_MIN_DELETED_RATIO", "2", "a number from 0 to 1"],
  ["post", (e: Record<string, string>) => loadPostConfig(e), "OASIS_POST_BATCHED_WRITES", "sometimes", "one of 1, true, on, yes, 0, false, off, no"],
  ["notification", (e: Record<string, string>) => loadNotificationConfig(e), "OASIS_NOTIFICATION_CONSUMER_CONCURRENCY", "0", "an integer >= 1"],
  ["notification", (e: Record<string, string>) => loadNotificationConfig(e), "OASIS_NOTIFICATION_BATCHED_WRITES", "maybe", "one of 1, true, on, yes, 0, false, off, no"],
  ["wallet", (e: Record<string, string>) => loadWalletConfig(e), "OASIS_WALLET_EXPIRE_MS", "0", "an integer >= 1"],
  ["chat", (e: Record<string, string>) => loadChatConfig(e), "OASIS_CHAT_MESSAGES_PER_MINUTE", "lots", "an integer >= 1"],
  ["edge", (e: Record<string, string>) => loadEdgeConfig(e), "OASIS_EDGE_TIMEOUT_MS", "10s", "an integer"],
  ["edge", (e: Record<string, string>) => loadEdgeConfig(e), "OASIS_EDGE_JSON_REUSE_ENTRIES", "-3", "an integer >= 0"],
  ["edge", (e: Record<string, string>) => loadEdgeConfig(e), "OASIS_EDGE_SEARCH_PAGE_PATH", "sometimes", "one of 1, true, on, yes, 0, false, off, no"],
  ["search", (e: Record<string, string>) => loadSearchConfig(e), "OASIS_SEARCH_CACHE_ENTRIES", "-1", "an integer >= 0"],
  ["search", (e: Record<string, string>) => loadSearchConfig(e), "OASIS_SEARCH_REFRESH_MS", "0", "an integer >= 1"],
  ["search", (e: Record<string, string>) => loadSearchConfig(e), "OASIS_SEARCH_QUERY_INVALIDATION", "perhaps", "one of 1, true, on, yes, 0, false, off, no"],
  ["search", (e: Record<string, string>) => loadSearchConfig(e), "OASIS_SEARCH_TIER_WALKS", "twice", "one of 1, true, on, yes, 0, false, off, no"],
  ["feed consumer ack wait", (e: Record<string, string>) => loadFeedConfig(e), "OASIS_CONSUMER_ACK_WAIT_MS", "500", "an integer from 1000 to 600000"],
  ["edge page path", (e: Record<string, string>) => loadEdgeConfig(e), "OASIS_EDGE_PAGE_PATH", "maybe", "one of 1, true, on, yes, 0, false, off, no"],
])("%s refuses a bad value, naming the variable", (_name, load, variable, value, requirement) => {
  expect(() => load({ ...base, [variable]: value })).toThrow(`${variable} must be ${requirement}, got "${value}"`);
  expect(() => load(base)).not.toThrow();
});

test("the edge's page path is on by default and reads the shared Redis unless told otherwise", () => {
  const on = loadEdgeConfig({ ...base, OASIS_REDIS_URL: "redis://r:6379", OASIS_NAMESPACE: "t1" });
  expect([on.pagePath, on.feedRedisUrl, on.feedRedisPrefix]).toEqual([true, "redis://r:6379", "t1:oasis:feed:"]);
  const off = loadEdgeConfig({ ...base, OASIS_EDGE_PAGE_PATH: "0", OASIS_EDGE_FEED_REDIS_URL: "redis://feed:6379" });
  expect([off.pagePath, off.feedRedisUrl, off.feedRedisPrefix]).toEqual([false, "redis://feed:6379", "oasis:feed:"]);
});
