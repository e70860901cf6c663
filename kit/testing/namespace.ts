/**
 * Test isolation: each test file runs its services in a fresh namespace (see
 * kit/config.ts), so files never see each other's databases, Redis keys or streams,
 * and everything a namespace created is removed afterwards.
 */
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { sharedConfig, type Env } from "../config.ts";
import { deleteNamespaceStreams } from "../bus.ts";
import { deleteKeysWithPrefix } from "../redis.ts";

/** A fresh namespace: "t" + 7 random base-36 characters. */
export function testNamespace(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return `t${[...randomBytes(7)].map((b) => alphabet[b % 36]).join("")}`;
}

/** Drops the namespace's databases, Redis keys and NATS streams. */
export async function cleanupNamespace(namespace: string, env: Env = process.env): Promise<void> {
  if (!namespace) throw new Error("refusing to clean up the production namespace");
  const cfg = sharedConfig({ ...env, OASIS_NAMESPACE: namespace });
  const conn = await mysql.createConnection({ uri: cfg.mysqlUrl });
  try {
    const [rows] = await conn.query("SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE ?", [
      `oasis\\_${namespace}\\_%`,
    ]);
    for (const r of rows as Array<{ name: string }>) await conn.query(`DROP DATABASE IF EXISTS \`${r.name}\``);
  } finally {
    await conn.end();
  }
  await deleteKeysWithPrefix(cfg.redisUrl, `${namespace}:`);
  const nc = await connect({ servers: cfg.natsUrl });
  try {
    await deleteNamespaceStreams(await jetstreamManager(nc), namespace);
  } finally {
    await nc.close();
  }
}
