/**
 * Notification's SQL (database `oasis_notification`): grouped inbox entries; implements
 * domain/model.ts NotificationStore.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { select, write, type BatchedTx, type Queryable, type Statement } from "#kit/mysql.ts";
import { NotificationSchema, type Notification } from "#gen/oasis/notification/v1/notification_pb.ts";
import type { Delivery, NotificationStore } from "./domain/model.ts";

export type { Delivery };

type Raw = {
  id: string;
  notification_id: string;
  kind: number;
  post_id: string;
  comment_id: string;
  actor_ids: string | string[];
  actor_count: number;
  text: string;
  open_marker: number | null;
  created_at: Date;
  updated_at: Date;
};

function toNotification(r: Raw): Notification {
  const actors = typeof r.actor_ids === "string" ? (JSON.parse(r.actor_ids) as string[]) : r.actor_ids;
  return create(NotificationSchema, {
    notificationId: BigInt(r.notification_id),
    kind: r.kind,
    actorIds: actors.map(BigInt),
    actorCount: BigInt(r.actor_count),
    postId: BigInt(r.post_id),
    commentId: BigInt(r.comment_id),
    text: r.text,
    read: r.open_marker === null,
    createdAt: timestampFromDate(r.created_at),
    updatedAt: timestampFromDate(r.updated_at),
  });
}

/**
 * Records a delivery: joins the open group or opens one. Returns the new notification id
 * when something changed (a new entry, or a new actor in a group), else undefined.
 */
export async function deliver(db: Queryable, d: Delivery, nextId: () => bigint): Promise<bigint | undefined> {
  const [open] = await select<{ id: string; actor_ids: string | string[] }>(
    db,
    "SELECT id, actor_ids FROM notifications WHERE recipient_id = ? AND group_key = ? AND open_marker = 1 FOR UPDATE",
    [d.recipientId, d.groupKey],
  );
  const seq = nextId();
  if (open) {
    if ((await write(db, "INSERT IGNORE INTO notification_actors (id, actor_id) VALUES (?, ?)", [open.id, d.actorId])) === 0) return undefined;
    const prev = (typeof open.actor_ids === "string" ? (JSON.parse(open.actor_ids) as string[]) : open.actor_ids).filter((a) => a !== String(d.actorId));
    await write(
      db,
      `UPDATE notifications SET notification_id = ?, actor_ids = ?, actor_count = actor_count + 1, text = IF(? = '', text, ?),
         comment_id = IF(? = 0, comment_id, ?), updated_at = CURRENT_TIMESTAMP(3) WHERE id = ?`,
      [seq, JSON.stringify([String(d.actorId), ...prev].slice(0, 3)), d.text, d.text.slice(0, 300), d.commentId, d.commentId, open.id],
    );
    return seq;
  }
  const id = nextId();
  await write(
    db,
    `INSERT INTO notifications (id, notification_id, recipient_id, kind, group_key, post_id, comment_id, actor_ids, actor_count, text, open_marker, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, 1, CURRENT_TIMESTAMP(3), CURRENT_TIMESTAMP(3))`,
    [id, seq, d.recipientId, d.kind, d.groupKey, d.postId, d.commentId, JSON.stringify([String(d.actorId)]), d.text.slice(0, 300)],
  );
  await write(db, "INSERT INTO notification_actors (id, actor_id) VALUES (?, ?)", [id, d.actorId]);
  return seq;
}

/**
 * `deliver` for all of an event's deliveries in two round trips of one batched
 * transaction (kit/consumer.ts applyOnceBatched), where `deliver` takes three or four
 * statements each plus BEGIN, the claim and COMMIT: (1) `claim` (the event id) and each
 * delivery's open group, locked; (2) the new groups in one multi-row INSERT and their
 * actors in another, and for each open group its actor (INSERT IGNORE) and, only when
 * the actor is new to it (ROW_COUNT() in a session variable), its update; COMMIT. Two
 * deliveries of one event to the same group are not batched: the caller uses `deliver`.
 * Returns [recipient, new notification id] of each delivery that changed something.
 */
export async function deliverBatched(tx: BatchedTx, claim: Statement, ds: readonly Delivery[], nextId: () => bigint): Promise<Array<[bigint, bigint]>> {
  const [, ...opens] = (await tx.run([
    claim,
    ...ds.map((d) => ({ sql: "SELECT id, actor_ids FROM notifications WHERE recipient_id = ? AND group_key = ? AND open_marker = 1 FOR UPDATE", params: [d.recipientId, d.groupKey] })),
  ])) as [unknown, ...Array<Array<{ id: string; actor_ids: string | string[] }>>];
  const changed: Array<[bigint, bigint]> = [];
  const fresh: Array<{ d: Delivery; id: bigint; seq: bigint }> = [];
  const joins: Statement[] = [];
  const joined: Array<{ recipient: bigint; seq: bigint }> = [];
  ds.forEach((d, i) => {
    const open = opens[i]![0];
    const seq = nextId();
    if (!open) {
      fresh.push({ d, id: nextId(), seq });
      changed.push([d.recipientId, seq]);
      return;
    }
    const n = `@oasis_new_actor_${joined.length}`;
    const prev = (typeof open.actor_ids === "string" ? (JSON.parse(open.actor_ids) as string[]) : open.actor_ids).filter((a) => a !== String(d.actorId));
    joins.push(
      { sql: "INSERT IGNORE INTO notification_actors (id, actor_id) VALUES (?, ?)", params: [open.id, d.actorId] },
      { sql: `SET ${n} := ROW_COUNT()` },
      {
        sql: `UPDATE notifications SET notification_id = ?, actor_ids = ?, actor_count = actor_count + 1, text = IF(? = '', text, ?),
                comment_id = IF(? = 0, comment_id, ?), updated_at = CURRENT_TIMESTAMP(3) WHERE id = ? AND ${n} = 1`,
        params: [seq, JSON.stringify([String(d.actorId), ...prev].slice(0, 3)), d.text, d.text.slice(0, 300), d.commentId, d.commentId, open.id],
      },
    );
    joined.push({ recipient: d.recipientId, seq });
  });
  const writes: Statement[] = [];
  if (fresh.length) {
    writes.push(
      {
        sql: `INSERT INTO notifications (id, notification_id, recipient_id, kind, group_key, post_id, comment_id, actor_ids, actor_count, text, open_marker, created_at, updated_at)
              VALUES ${fresh.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, 1, ?, 1, CURRENT_TIMESTAMP(3), CURRENT_TIMESTAMP(3))").join(", ")}`,
        params: fresh.flatMap(({ d, id, seq }) => [id, seq, d.recipientId, d.kind, d.groupKey, d.postId, d.commentId, JSON.stringify([String(d.actorId)]), d.text.slice(0, 300)]),
      },
      { sql: `INSERT INTO notification_actors (id, actor_id) VALUES ${fresh.map(() => "(?, ?)").join(", ")}`, params: fresh.flatMap(({ d, id }) => [id, d.actorId]) },
    );
  }
  writes.push(...joins);
  if (joined.length) writes.push({ sql: `SELECT ${joined.map((_, i) => `@oasis_new_actor_${i} AS n${i}`).join(", ")}` });
  const results = await tx.run(writes, { commit: true });
  if (joined.length) {
    const row = (results.at(-1) as Array<Record<string, number | string>>)[0]!;
    joined.forEach((j, i) => Number(row[`n${i}`]) === 1 && changed.push([j.recipient, j.seq]));
  }
  return changed;
}

/**
 * The deliveries of several events (kit/consumer.ts events handled together: events.ts
 * GroupCommit) in two round trips of one batched transaction, whatever their number:
 * (1) `claim` (one multi-row INSERT of every event id) and the open group of every
 * distinct (recipient, group) among them, locked, one point lookup each in a fixed order; (2) in delivery order,
 * a group's first delivery with no open group opens it (the entry and its actor), and
 * every other delivery joins its group as `deliver` would: its actor (INSERT IGNORE) and,
 * only when the actor is new to the group (ROW_COUNT() in a session variable), the
 * entry's new notification id, count and latest actors (JSON_ARRAY_INSERT in SQL, so
 * several joins of one group in one batch build on each other); COMMIT. So N likes of
 * one post cost one row lock and one batch, not N transactions queued on that lock.
 * Returns, per delivery, the new notification id when it changed something.
 */
export async function deliverGroup(tx: BatchedTx, claim: Statement, ds: readonly Delivery[], nextId: () => bigint): Promise<Array<bigint | undefined>> {
  const groupOf = (d: Delivery) => `${d.recipientId}/${d.groupKey}`;
  // One point lookup per group (the unique open-group key), in one order for every
  // commit, so concurrent commits lock only their groups and in the same order.
  const groups = [...new Map(ds.map((d) => [groupOf(d), d])).values()].sort((a, b) =>
    a.recipientId !== b.recipientId ? (a.recipientId < b.recipientId ? -1 : 1) : a.groupKey < b.groupKey ? -1 : a.groupKey > b.groupKey ? 1 : 0,
  );
  const [, ...opens] = (await tx.run([
    claim,
    ...groups.map((d) => ({ sql: "SELECT id FROM notifications WHERE recipient_id = ? AND group_key = ? AND open_marker = 1 FOR UPDATE", params: [d.recipientId, d.groupKey] })),
  ])) as [unknown, ...Array<Array<{ id: string }>>];
  const openId = new Map<string, bigint>();
  groups.forEach((d, i) => opens[i]![0] && openId.set(groupOf(d), BigInt(opens[i]![0]!.id)));
  const out: Array<bigint | undefined> = new Array(ds.length).fill(undefined);
  const writes: Statement[] = [];
  const joins: Array<{ at: number; seq: bigint }> = [];
  ds.forEach((d, at) => {
    const seq = nextId();
    const open = openId.get(groupOf(d));
    if (open === undefined) {
      const id = nextId();
      openId.set(groupOf(d), id);
      writes.push(
        {
          sql: `INSERT INTO notifications (id, notification_id, recipient_id, kind, group_key, post_id, comment_id, actor_ids, actor_count, text, open_marker, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, 1, CURRENT_TIMESTAMP(3), CURRENT_TIMESTAMP(3))`,
          params: [id, seq, d.recipientId, d.kind, d.groupKey, d.postId, d.commentId, JSON.stringify([String(d.actorId)]), d.text.slice(0, 300)],
        },
        { sql: "INSERT INTO notification_actors (id, actor_id) VALUES (?, ?)", params: [id, d.actorId] },
      );
      out[at] = seq;
      return;
    }
    const n = `@oasis_new_actor_${joins.length}`;
    writes.push(
      { sql: "INSERT IGNORE INTO notification_actors (id, actor_id) VALUES (?, ?)", params: [open, d.actorId] },
      { sql: `SET ${n} := ROW_COUNT()` },
      {
        sql: `UPDATE notifications SET notification_id = ?, actor_ids = JSON_REMOVE(JSON_ARRAY_INSERT(actor_ids, '$[0]', ?), '$[3]'), actor_count = actor_count + 1,
                text = IF(? = '', text, ?), comment_id = IF(? = 0, comment_id, ?), updated_at = CURRENT_TIMESTAMP(3) WHERE id = ? AND ${n} = 1`,
        params: [seq, String(d.actorId), d.text, d.text.slice(0, 300), d.commentId, d.commentId, open],
      },
    );
    joins.push({ at, seq });
  });
  if (joins.length) writes.push({ sql: `SELECT ${joins.map((_, i) => `@oasis_new_actor_${i} AS n${i}`).join(", ")}` });
  const results = await tx.run(writes, { commit: true });
  if (joins.length) {
    const row = (results.at(-1) as Array<Record<string, number | string>>)[0]!;
    joins.forEach((j, i) => Number(row[`n${i}`]) === 1 && (out[j.at] = j.seq));
  }
  return out;
}

/**
 * deliverGroup with a fixed number of statements per commit, whatever the number of
 * deliveries (OASIS_NOTIFICATION_SET_COMMIT, the default): where deliverGroup sends a
 * point lookup per group and two or three statements per delivery, this sends (1)
 * `claim`, every open group of the batch in one locking read (row IN on the open-group
 * key) and, in one locking join, which of the batch's actors each open group already
 * has; (2) every group that changes in one INSERT ... ON DUPLICATE KEY UPDATE on its id
 * (a new group is inserted whole; an open one gets its new notification id, count, latest
 * three actors, text and comment id, computed here from the locked row) and every new
 * (group, actor) in one multi-row INSERT IGNORE; COMMIT. The same result as deliverGroup
 * (deliveries in order: a group's first new actor opens it, an actor already in the group
 * or earlier in the batch changes nothing, the latest three actors first, the count
 * exact). Returns, per delivery that changed something, its group's new notification id
 * (one per group per commit: the id the entry ends with), else undefined.
 */
export async function deliverGroupSet(tx: BatchedTx, claim: Statement, ds: readonly Delivery[], nextId: () => bigint): Promise<Array<bigint | undefined>> {
  const groupOf = (d: Delivery) => `${d.recipientId}/${d.groupKey}`;
  const firsts = [...new Map(ds.map((d) => [groupOf(d), d])).values()];
  const actors = [...new Set(ds.map((d) => d.actorId))];
  const keys = firsts.map(() => "(?, ?, 1)").join(", ");
  const keyParams = firsts.flatMap((d) => [d.recipientId, d.groupKey]);
  const [, opens, present] = (await tx.run([
    claim,
    {
      sql: `SELECT id, recipient_id, group_key, actor_ids, actor_count FROM notifications FORCE INDEX (notifications_open_group)
            WHERE (recipient_id, group_key, open_marker) IN (${keys}) FOR UPDATE`,
      params: keyParams,
    },
    {
      sql: `SELECT n.recipient_id, n.group_key, a.actor_id FROM notifications n FORCE INDEX (notifications_open_group)
            JOIN notification_actors a ON a.id = n.id AND a.actor_id IN (?)
            WHERE (n.recipient_id, n.group_key, n.open_marker) IN (${keys}) FOR UPDATE`,
      params: [actors, ...keyParams],
    },
  ])) as [unknown, Array<{ id: string; recipient_id: string; group_key: string; actor_ids: string | string[]; actor_count: number }>, Array<{ recipient_id: string; group_key: string; actor_id: string }>];
  const open = new Map(opens.map((r) => [`${r.recipient_id}/${r.group_key}`, r]));
  const seen = new Set(present.map((r) => `${r.recipient_id}/${r.group_key}/${r.actor_id}`));
  interface Change { id: bigint; first: Delivery; isNew: boolean; prev: string[]; count: number; added: bigint[]; text: string; commentId: bigint; at: number[] }
  const changes = new Map<string, Change>();
  ds.forEach((d, at) => {
    const g = groupOf(d);
    const pair = `${g}/${d.actorId}`;
    if (seen.has(pair)) return;
    seen.add(pair);
    let c = changes.get(g);
    if (!c) {
      const row = open.get(g);
      c = row
        ? { id: BigInt(row.id), first: d, isNew: false, prev: typeof row.actor_ids === "string" ? (JSON.parse(row.actor_ids) as string[]) : row.actor_ids, count: Number(row.actor_count), added: [], text: "", commentId: 0n, at: [] }
        : { id: nextId(), first: d, isNew: true, prev: [], count: 0, added: [], text: d.text, commentId: d.commentId, at: [] };
      changes.set(g, c);
    }
    c.added.push(d.actorId);
    c.count++;
    if (d.text !== "") c.text = d.text;
    if (d.commentId !== 0n) c.commentId = d.commentId;
    c.at.push(at);
  });
  const out: Array<bigint | undefined> = new Array(ds.length).fill(undefined);
  const list = [...changes.values()];
  if (list.length === 0) {
    await tx.run([], { commit: true });
    return out;
  }
  const rows = list.map((c) => {
    const seq = nextId();
    for (const at of c.at) out[at] = seq;
    const latest = [...c.added].reverse().map(String);
    const actorIds = JSON.stringify([...latest, ...c.prev.filter((a) => !latest.includes(a))].slice(0, 3));
    const d = c.first;
    return [c.id, seq, d.recipientId, d.kind, d.groupKey, d.postId, c.commentId, actorIds, c.count, c.text.slice(0, 300)];
  });
  await tx.run(
    [
      {
        sql: `INSERT INTO notifications (id, notification_id, recipient_id, kind, group_key, post_id, comment_id, actor_ids, actor_count, text, open_marker, created_at, updated_at)
              VALUES ${rows.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, CURRENT_TIMESTAMP(3), CURRENT_TIMESTAMP(3))").join(", ")}
              ON DUPLICATE KEY UPDATE notification_id = VALUES(notification_id), actor_ids = VALUES(actor_ids), actor_count = VALUES(actor_count),
                text = IF(VALUES(text) = '', text, VALUES(text)), comment_id = IF(VALUES(comment_id) = 0, comment_id, VALUES(comment_id)), updated_at = CURRENT_TIMESTAMP(3)`,
        params: rows.flat(),
      },
      {
        sql: `INSERT IGNORE INTO notification_actors (id, actor_id) VALUES ${list.flatMap((c) => c.added.map(() => "(?, ?)")).join(", ")}`,
        params: list.flatMap((c) => c.added.flatMap((a) => [c.id, a])),
      },
    ],
    { commit: true },
  );
  return out;
}

/** A recipient's entries, newest activity first, below `before`. */
export async function inbox(db: Queryable, recipientId: bigint, before: bigint | undefined, limit: number): Promise<Notification[]> {
  const rows = await select<Raw>(
    db,
    `SELECT * FROM notifications WHERE recipient_id = ? ${before !== undefined ? "AND notification_id < ?" : ""} ORDER BY notification_id DESC LIMIT ?`,
    before !== undefined ? [recipientId, before, limit] : [recipientId, limit],
  );
  return rows.map(toNotification);
}

export async function byNotificationIds(db: Queryable, recipientId: bigint, ids: readonly bigint[]): Promise<Notification[]> {
  if (ids.length === 0) return [];
  return (await select<Raw>(db, "SELECT * FROM notifications WHERE recipient_id = ? AND notification_id IN (?)", [recipientId, ids])).map(toNotification);
}

export async function unreadCount(db: Queryable, recipientId: bigint): Promise<bigint> {
  const [r] = await select<{ n: string }>(db, "SELECT COUNT(*) AS n FROM notifications WHERE recipient_id = ? AND open_marker = 1", [recipientId]);
  return BigInt(r!.n);
}

export async function markRead(db: Queryable, recipientId: bigint, upTo: bigint): Promise<void> {
  await write(
    db,
    `UPDATE notifications SET open_marker = NULL WHERE recipient_id = ? AND open_marker = 1 ${upTo > 0n ? "AND notification_id <= ?" : ""}`,
    upTo > 0n ? [recipientId, upTo] : [recipientId],
  );
}

/** The store as domain/model.ts declares it. */
export const notificationStore: NotificationStore = { deliver, deliverBatched, deliverGroup, deliverGroupSet, inbox, byNotificationIds, unreadCount, markRead };
