/**
 * Chat's SQL (database `oasis_chat`): implements domain/model.ts ChatStore. Lock order
 * in every writing transaction: the convo's member rows (primary key order), then
 * log_cursors in ascending user id, so concurrent sends, reads and reactions never wait
 * on each other in a cycle.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { isDuplicateKey, select, write, type Queryable, type Tx } from "#kit/mysql.ts";
import { LogEntrySchema, type AllowIncoming, type LogEntry, type MemberStatus } from "#gen/oasis/chat/v1/chat_pb.ts";
import type { ChatStore, ConvoRow, MemberRow, MessageRow, StoredImage } from "./domain/model.ts";

type MemberRaw = {
  convo_id: string;
  user_id: string;
  status: number;
  muted: number;
  active: number;
  read_message_id: string;
  unread_count: number;
  activity_id: string;
  last_message_id: string;
};
type ConvoRaw = { convo_id: string; is_group: number; created_by: string; created_at: Date };
type MessageRaw = {
  convo_id: string;
  message_id: string;
  sender_id: string;
  text: string;
  media: string | Array<Record<string, unknown>>;
  reply_to_message_id: string;
  created_at: Date;
};

const toMember = (r: MemberRaw): MemberRow => ({
  convoId: BigInt(r.convo_id),
  userId: BigInt(r.user_id),
  status: r.status as MemberStatus,
  muted: r.muted === 1,
  active: r.active === 1,
  readMessageId: BigInt(r.read_message_id),
  unreadCount: Number(r.unread_count),
  activityId: BigInt(r.activity_id),
  lastMessageId: BigInt(r.last_message_id),
});
const toConvo = (r: ConvoRaw): ConvoRow => ({ convoId: BigInt(r.convo_id), isGroup: r.is_group === 1, createdBy: BigInt(r.created_by), createdAt: r.created_at });
const toMessage = (r: MessageRaw): MessageRow => {
  const media = (typeof r.media === "string" ? JSON.parse(r.media) : r.media) as Array<{ id: string; w: number; h: number; b: string }>;
  return {
    convoId: BigInt(r.convo_id),
    messageId: BigInt(r.message_id),
    senderId: BigInt(r.sender_id),
    text: r.text,
    media: media.map((m): StoredImage => ({ mediaId: BigInt(m.id), width: m.w, height: m.h, blurhash: m.b })),
    replyToMessageId: BigInt(r.reply_to_message_id),
    createdAt: r.created_at,
  };
};

const pairKey = (a: bigint, b: bigint) => (a < b ? `${a}:${b}` : `${b}:${a}`);

const memberCols = "m.convo_id, m.user_id, m.status, m.muted, m.active, m.read_message_id, m.unread_count, m.activity_id, m.last_message_id";

export const chatStore: ChatStore = {
  async convo(db, convoId) {
    const [r] = await select<ConvoRaw>(db, "SELECT convo_id, is_group, created_by, created_at FROM convos WHERE convo_id = ?", [convoId]);
    return r ? toConvo(r) : undefined;
  },

  async pairConvo(db, a, b) {
    const [r] = await select<{ convo_id: string }>(db, "SELECT convo_id FROM convos WHERE pair_key = ?", [pairKey(a, b)]);
    return r ? BigInt(r.convo_id) : undefined;
  },

  async insertConvo(tx, convo, members) {
    const key = !convo.isGroup && members.length === 2 ? pairKey(members[0]!.userId, members[1]!.userId) : null;
    try {
      await write(tx, "INSERT INTO convos (convo_id, pair_key, is_group, created_by, created_at) VALUES (?, ?, ?, ?, ?)", [
        convo.convoId,
        key,
        convo.isGroup ? 1 : 0,
        convo.createdBy,
        convo.createdAt,
      ]);
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
    await write(
      tx,
      "INSERT INTO members (convo_id, user_id, status, activity_id) VALUES ?",
      [[...members].sort((x, y) => (x.userId < y.userId ? -1 : 1)).map((m) => [convo.convoId, m.userId, m.status, convo.convoId])],
    );
    return true;
  },

  async members(db, convoId, lock = false) {
    const rows = await select<MemberRaw>(db, `SELECT ${memberCols} FROM members m WHERE m.convo_id = ? ORDER BY m.user_id${lock ? " FOR UPDATE" : ""}`, [convoId]);
    return rows.map(toMember);
  },

  async activeMemberIds(db, convoIds) {
    const out = new Map<bigint, bigint[]>();
    if (!convoIds.length) return out;
    for (const r of await select<{ convo_id: string; user_id: string }>(
      db,
      "SELECT convo_id, user_id FROM members WHERE convo_id IN (?) AND active = 1 ORDER BY convo_id, user_id",
      [convoIds],
    )) {
      const id = BigInt(r.convo_id);
      out.set(id, [...(out.get(id) ?? []), BigInt(r.user_id)]);
    }
    return out;
  },

  async updateMember(tx, convoId, userId, set) {
    const cols: string[] = [];
    const vals: unknown[] = [];
    if (set.status !== undefined) (cols.push("status = ?"), vals.push(set.status));
    if (set.muted !== undefined) (cols.push("muted = ?"), vals.push(set.muted ? 1 : 0));
    if (set.active !== undefined) (cols.push("active = ?"), vals.push(set.active ? 1 : 0));
    if (set.readMessageId !== undefined) (cols.push("read_message_id = ?"), vals.push(set.readMessageId));
    if (set.unreadCount !== undefined) (cols.push("unread_count = ?"), vals.push(set.unreadCount));
    if (!cols.length) return;
    await write(tx, `UPDATE members SET ${cols.join(", ")} WHERE convo_id = ? AND user_id = ?`, [...vals, convoId, userId]);
  },

  async insertMessage(tx, m) {
    await write(
      tx,
      "INSERT INTO messages (convo_id, message_id, sender_id, text, media, reply_to_message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      [
        m.convoId,
        m.messageId,
        m.senderId,
        m.text,
        JSON.stringify(m.media.map((x) => ({ id: String(x.mediaId), w: x.width, h: x.height, b: x.blurhash }))),
        m.replyToMessageId,
        m.createdAt,
      ],
    );
  },

  async recordMessage(tx, m) {
    await write(
      tx,
      `UPDATE members SET
         unread_count = IF(user_id = ?, 0, unread_count + 1),
         read_message_id = IF(user_id = ?, ?, read_message_id),
         activity_id = ?, last_message_id = ?
       WHERE convo_id = ? AND active = 1`,
      [m.senderId, m.senderId, m.messageId, m.messageId, m.messageId, m.convoId],
    );
  },

  async markRead(tx, convoId, userId, upTo) {
    // The locking read comes first, so the count below reads a snapshot taken after
    // every send that already updated this row has committed (InnoDB takes the read
    // view at the first non-locking read); sends not yet at this row add their +1 after.
    const [row] = await select<{ read_message_id: string }>(tx, "SELECT read_message_id FROM members WHERE convo_id = ? AND user_id = ? FOR UPDATE", [convoId, userId]);
    const previous = BigInt(row!.read_message_id);
    let mark = upTo;
    if (mark === 0n) {
      const [last] = await select<{ id: string | null }>(tx, "SELECT MAX(message_id) AS id FROM messages WHERE convo_id = ?", [convoId]);
      mark = last?.id ? BigInt(last.id) : 0n;
    }
    if (mark < previous) mark = previous;
    const [c] = await select<{ n: string }>(tx, "SELECT COUNT(*) AS n FROM messages WHERE convo_id = ? AND message_id > ? AND sender_id <> ?", [convoId, mark, userId]);
    const unread = Number(c!.n);
    await write(tx, "UPDATE members SET read_message_id = ?, unread_count = ? WHERE convo_id = ? AND user_id = ?", [mark, unread, convoId, userId]);
    return { previous, readMessageId: mark, unreadCount: unread };
  },

  async message(db, convoId, messageId) {
    const [r] = await select<MessageRaw>(db, "SELECT * FROM messages WHERE convo_id = ? AND message_id = ?", [convoId, messageId]);
    return r ? toMessage(r) : undefined;
  },

  async latestMessageId(db, convoId) {
    const [r] = await select<{ id: string | null }>(db, "SELECT MAX(message_id) AS id FROM messages WHERE convo_id = ?", [convoId]);
    return r?.id ? BigInt(r.id) : 0n;
  },

  async messages(db, convoId, viewer, before, limit) {
    const rows = await select<MessageRaw>(
      db,
      `SELECT m.* FROM messages m
       LEFT JOIN hidden_messages h ON h.user_id = ? AND h.convo_id = m.convo_id AND h.message_id = m.message_id
       WHERE m.convo_id = ? ${before !== undefined ? "AND m.message_id < ?" : ""} AND h.message_id IS NULL
       ORDER BY m.message_id DESC LIMIT ?`,
      before !== undefined ? [viewer, convoId, before, limit] : [viewer, convoId, limit],
    );
    return rows.map(toMessage);
  },

  async messagesByIds(db, keys) {
    const out = new Map<bigint, MessageRow>();
    if (!keys.length) return out;
    const rows = await select<MessageRaw>(db, "SELECT * FROM messages WHERE (convo_id, message_id) IN (?)", [keys.map(([c, m]) => [c, m])]);
    for (const r of rows) out.set(BigInt(r.message_id), toMessage(r));
    return out;
  },

  async hide(tx, userId, convoId, messageId) {
    return (await write(tx, "INSERT IGNORE INTO hidden_messages (user_id, convo_id, message_id) VALUES (?, ?, ?)", [userId, convoId, messageId])) > 0;
  },

  async reactions(db, messageIds) {
    const out = new Map<bigint, Array<{ userId: bigint; value: string }>>();
    if (!messageIds.length) return out;
    const rows = await select<{ message_id: string; user_id: string; value: Buffer }>(
      db,
      "SELECT message_id, user_id, value FROM reactions WHERE message_id IN (?) ORDER BY created_at, user_id",
      [messageIds],
    );
    for (const r of rows) {
      const id = BigInt(r.message_id);
      out.set(id, [...(out.get(id) ?? []), { userId: BigInt(r.user_id), value: Buffer.from(r.value).toString("utf8") }]);
    }
    return out;
  },

  async addReaction(tx, messageId, userId, value, max) {
    const [c] = await select<{ n: string }>(tx, "SELECT COUNT(*) AS n FROM reactions WHERE message_id = ? FOR UPDATE", [messageId]);
    const [have] = await select<{ n: string }>(tx, "SELECT COUNT(*) AS n FROM reactions WHERE message_id = ? AND user_id = ? AND value = ?", [messageId, userId, Buffer.from(value)]);
    if (Number(have!.n) > 0) return "present";
    if (Number(c!.n) >= max) return "full";
    await write(tx, "INSERT INTO reactions (message_id, user_id, value, created_at) VALUES (?, ?, ?, CURRENT_TIMESTAMP(3))", [messageId, userId, Buffer.from(value)]);
    return "added";
  },

  async removeReaction(tx, messageId, userId, value) {
    return (await write(tx, "DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND value = ?", [messageId, userId, Buffer.from(value)])) > 0;
  },

  async appendLog(tx, writes) {
    if (!writes.length) return [];
    const perUser = new Map<bigint, number>();
    for (const w of writes) perUser.set(w.userId, (perUser.get(w.userId) ?? 0) + 1);
    const users = [...perUser.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    await write(tx, "INSERT INTO log_cursors (user_id, seq) VALUES ? ON DUPLICATE KEY UPDATE seq = seq + VALUES(seq)", [users.map((u) => [u, perUser.get(u)!])]);
    const heads = new Map(
      (await select<{ user_id: string; seq: string }>(tx, "SELECT user_id, seq FROM log_cursors WHERE user_id IN (?)", [users])).map((r) => [BigInt(r.user_id), BigInt(r.seq)]),
    );
    // Each user's entries get the last perUser(u) numbers up to their new head, in order.
    const next = new Map(users.map((u) => [u, heads.get(u)! - BigInt(perUser.get(u)!) + 1n]));
    const out = writes.map((w) => {
      const seq = next.get(w.userId)!;
      next.set(w.userId, seq + 1n);
      const entry = { ...w.entry, cursor: String(seq) } as LogEntry;
      return { userId: w.userId, entry, seq };
    });
    await write(tx, "INSERT INTO log (user_id, seq, convo_id, entry, created_at) VALUES ?", [
      out.map((o) => [o.userId, o.seq, o.entry.convoId, Buffer.from(toBinary(LogEntrySchema, o.entry)), new Date()]),
    ]);
    return out.map(({ userId, entry }) => ({ userId, entry }));
  },

  async logSince(db, userId, after, limit) {
    const rows = await select<{ entry: Buffer }>(db, "SELECT entry FROM log WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?", [userId, after, limit]);
    return rows.map((r) => fromBinary(LogEntrySchema, r.entry));
  },

  async logHead(db, userId) {
    const [r] = await select<{ seq: string }>(db, "SELECT seq FROM log_cursors WHERE user_id = ?", [userId]);
    return r ? BigInt(r.seq) : 0n;
  },

  async inbox(db, userId, f) {
    const where = ["m.user_id = ?", "m.active = 1"];
    const params: unknown[] = [userId];
    if (f.status) (where.push("m.status = ?"), params.push(f.status));
    if (f.unreadOnly) where.push("m.unread_count > 0");
    if (f.before !== undefined) (where.push("m.activity_id < ?"), params.push(f.before));
    const rows = await select<MemberRaw & ConvoRaw>(
      db,
      `SELECT ${memberCols}, c.is_group, c.created_by, c.created_at FROM members m JOIN convos c ON c.convo_id = m.convo_id
       WHERE ${where.join(" AND ")} ORDER BY m.activity_id DESC LIMIT ?`,
      [...params, f.limit],
    );
    return rows.map((r) => ({ ...toMember(r), convo: toConvo(r) }));
  },

  async member(db, convoId, userId) {
    const [r] = await select<MemberRaw & ConvoRaw>(
      db,
      `SELECT ${memberCols}, c.is_group, c.created_by, c.created_at FROM members m JOIN convos c ON c.convo_id = m.convo_id
       WHERE m.convo_id = ? AND m.user_id = ?`,
      [convoId, userId],
    );
    return r ? { ...toMember(r), convo: toConvo(r) } : undefined;
  },

  async unreadCounts(db, userId) {
    const rows = await select<{ convo_id: string; unread_count: number }>(
      db,
      "SELECT convo_id, unread_count FROM members WHERE user_id = ? AND active = 1 AND unread_count > 0",
      [userId],
    );
    return new Map(rows.map((r) => [BigInt(r.convo_id), Number(r.unread_count)]));
  },

  async allowIncoming(db, userIds) {
    if (!userIds.length) return new Map();
    const rows = await select<{ user_id: string; allow_incoming: number }>(db, "SELECT user_id, allow_incoming FROM settings WHERE user_id IN (?)", [userIds]);
    return new Map(rows.map((r) => [BigInt(r.user_id), r.allow_incoming as AllowIncoming]));
  },

  async putAllowIncoming(db, userId, value) {
    await write(db, "INSERT INTO settings (user_id, allow_incoming) VALUES (?, ?) ON DUPLICATE KEY UPDATE allow_incoming = VALUES(allow_incoming)", [userId, value]);
  },

  async unreadDrift(db) {
    const rows = await select<{ convo_id: string; user_id: string; unread_count: number; recount: string }>(db, `${recountSql} HAVING recount <> m.unread_count`);
    return rows.map((r) => [BigInt(r.convo_id), BigInt(r.user_id), Number(r.unread_count), Number(r.recount)]);
  },

  async reconcileUnread(db) {
    let fixed = 0;
    for (const [convoId, userId] of await chatStore.unreadDrift(db)) {
      // Recounted in the UPDATE itself, so a send landing since the drift read is counted.
      fixed += await write(
        db,
        `UPDATE members m SET unread_count = (SELECT COUNT(*) FROM messages x WHERE x.convo_id = m.convo_id AND x.message_id > m.read_message_id AND x.sender_id <> m.user_id)
         WHERE convo_id = ? AND user_id = ? AND active = 1`,
        [convoId, userId],
      );
    }
    return fixed;
  },
};

/** Every active member's counter beside its recount from the messages. */
const recountSql = `SELECT m.convo_id, m.user_id, m.unread_count,
    (SELECT COUNT(*) FROM messages x WHERE x.convo_id = m.convo_id AND x.message_id > m.read_message_id AND x.sender_id <> m.user_id) AS recount
  FROM members m WHERE m.active = 1`;
