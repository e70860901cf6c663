/**
 * Access tokens minted as identity mints them, for tests that need one identity would
 * not issue (a 3 s lifetime): signed with identity's current key, read from its
 * database and opened with the run's KEK through identity's own `openKey`. Test support
 * lives here so that no edge test reaches into a service's folder
 * (scripts/boundaries.ts, rule edge-imports-service).
 */
import { SignJWT, importJWK, type JWK } from "jose";
import mysql from "mysql2/promise";
import { databaseName, sharedConfig } from "#kit/config.ts";
import type { TestMesh } from "#kit/testing/mesh.ts";
import { openKey } from "../services/identity/tokens.ts";

/**
 * An access token for `userId` (handle `handle`) that expires `seconds` from now,
 * signed with identity's newest unretired key in `mesh`'s identity database.
 * Throws when identity has no key yet or the KEK does not open it.
 */
export async function mintAccessToken(mesh: TestMesh, userId: bigint, handle: string, seconds: number): Promise<string> {
  const conn = await mysql.createConnection({ uri: sharedConfig(mesh.env).mysqlUrl, database: databaseName("identity", mesh.namespace) });
  try {
    const [rows] = (await conn.query("SELECT kid, private_jwk FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1")) as [
      Array<{ kid: string; private_jwk: string }>,
      unknown,
    ];
    const row = rows[0];
    if (!row) throw new Error("identity has no signing key yet");
    const opened = openKey(Buffer.from(mesh.env.OASIS_IDENTITY_KEK!, "base64"), row.kid, row.private_jwk);
    if (!opened) throw new Error(`the run's KEK does not open identity key ${row.kid}`);
    const now = Math.floor(Date.now() / 1000);
    return await new SignJWT({ sid: "1", handle })
      .setProtectedHeader({ alg: "EdDSA", kid: row.kid, typ: "JWT" })
      .setSubject(String(userId))
      .setIssuer("oasis.identity")
      .setAudience("oasis")
      .setIssuedAt(now)
      .setExpirationTime(now + seconds)
      .sign(await importJWK(JSON.parse(opened) as JWK, "EdDSA"));
  } finally {
    await conn.end();
  }
}
