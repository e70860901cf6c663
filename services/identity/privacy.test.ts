/**
 * Profile privacy with graph and media running (issue 14): a private account shows a
 * signed-in non-follower only its header (user id, handle, display name, avatar); its
 * followers see everything; a block in either direction hides the profile (NOT_FOUND);
 * an avatar must be the caller's own upload to the avatars or post-images bucket.
 * Reads go through the edge with real tokens, as the app makes them.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { imagePath, photoNames, readEdges, readFortunes } from "../../demo/data.ts";
import { startSocialTestbed, type SocialTestbed } from "../../testbeds/social.ts";

let bed: SocialTestbed;
// Real Reed98 members; the bio is a real quotation.
const [owner, follower, stranger, blocker] = [...new Set(readEdges().flat())].slice(60, 64) as [number, number, number, number];
const bio = readFortunes("en-people.fortune")[3]!.slice(0, 200);
const ids = new Map<number, bigint>();
const tokens = new Map<number, string>();
const rpc = "/oasis.identity.v1.IdentityService";

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media"]);
  const created = await bed.users([owner, follower, stranger, blocker], { private: (n) => n === owner });
  [owner, follower, stranger, blocker].forEach((n, i) => ids.set(n, created[i]!));
  for (const n of [owner, follower, stranger, blocker]) tokens.set(n, await bed.token(n));
  const o = ids.get(owner)!;
  await bed.identity(o).updateProfile({ profile: { userId: o, bio, displayName: "The Owner" }, updateMask: { paths: ["bio", "display_name"] } });
  // follower asks, owner approves (a private account).
  await bed.graph(ids.get(follower)!).follow({ userId: o });
  await bed.graph(o).approveFollowRequest({ userId: ids.get(follower)! });
  await bed.graph(ids.get(blocker)!).block({ userId: o });
}, 300_000);
afterAll(() => bed?.stop());

const getProfile = (as: number, userId: bigint) => bed.edgeCall(`${rpc}/GetProfile`, { userId: String(userId) }, tokens.get(as));

test("a private account: followers see it all, other signed-in users only its header", async () => {
  const o = ids.get(owner)!;
  const full = await getProfile(follower, o);
  expect(full.status).toBe(200);
  expect(full.json.profile.bio).toBe(bio);
  const header = await getProfile(stranger, o);
  expect(header.status).toBe(200);
  expect(header.json.profile).toEqual({ userId: String(o), handle: `reed_${owner}`, displayName: "The Owner", private: true });
  const batch = await bed.edgeCall(`${rpc}/BatchGetProfiles`, { userIds: [String(o)] }, tokens.get(stranger));
  expect(batch.json.profiles).toEqual([header.json.profile]);
  expect((await getProfile(owner, o)).json.profile.bio).toBe(bio);
});

test("a block hides the profile both ways", async () => {
  const o = ids.get(owner)!;
  const b = ids.get(blocker)!;
  for (const [as, target] of [[blocker, o], [owner, b]] as const) {
    const res = await getProfile(as, target);
    expect(res.status).toBe(404);
    expect(res.json.code).toBe("not_found");
  }
  // The blocked private profile is left out of batch reads too.
  const batch = await bed.edgeCall(`${rpc}/BatchGetProfiles`, { userIds: [String(o), String(ids.get(stranger)!)] }, tokens.get(blocker));
  expect(batch.json.profiles.map((p: { userId: string }) => p.userId)).toEqual([String(ids.get(stranger)!)]);
});

test("avatar_media_id must be the caller's own upload in an avatar bucket", async () => {
  const me = ids.get(stranger)!;
  const theirs = await bed.photo(ids.get(follower)!, 1);
  const mine = await bed.photo(me, 2);
  const chat = (await bed.media(me).uploadMedia({ bucket: "chat-images", data: readFileSync(imagePath(photoNames[2]!)), requestId: `chat-${me}` })).media!.id;
  const set = (mediaId: bigint) =>
    bed.edgeCall(`${rpc}/UpdateProfile`, { profile: { userId: String(me), avatarMediaId: String(mediaId) }, updateMask: "avatarMediaId" }, tokens.get(stranger));
  for (const bad of [theirs, chat, 987654321n]) {
    const res = await set(bad);
    expect(res.status).toBe(400);
    expect(res.json.details.map((d: { debug?: { reason?: string } }) => d.debug?.reason).filter(Boolean)).toEqual(["AVATAR_NOT_OWNED"]);
  }
  const ok = await set(mine);
  expect(ok.status).toBe(200);
  expect(ok.json.profile.avatarMediaId).toBe(String(mine));
});
