/**
 * `bun run admin roles grant|revoke|show <handle> [role]`: an operator grants or takes
 * back "moderator" or "admin" (identity's GrantRole/RevokeRole), or shows an account's
 * roles (GetRoles).
 *
 * It talks to identity over the mesh as the `operator` process (its own mesh key,
 * OASIS_MESH_KEY_OPERATOR, and OASIS_MESH_PUBLIC_KEYS, as `bun run mesh` and deploy/ hand
 * them out; never the edge's or a service's key). Grants are admin RPCs, so the operator
 * acts for an admin account: `--as <handle>` or the first of OASIS_ADMIN_HANDLES (the
 * configured first admin); identity checks that account's admin role as for any caller,
 * and logs the grant under it. Identity's URL: OASIS_IDENTITY_URL, else the local port.
 */
import { asService, asUser, createMeshClient } from "../../kit/client.ts";
import { upstreamsFrom } from "../../kit/config.ts";
import { meshIdentityFrom } from "../../kit/mesh-keys.ts";
import { IdentityService } from "../../gen/oasis/identity/v1/identity_service_pb.ts";

const roles = ["moderator", "admin"];

const help = `usage: bun run admin roles <verb> <handle> [role] [--as <admin handle>] [--json]
  grant  <handle> <role>   give the account a role (moderator | admin)
  revoke <handle> <role>   take a granted role back
  show   <handle>          the account's roles now
Env: OASIS_MESH_KEY_OPERATOR and OASIS_MESH_PUBLIC_KEYS (the operator's mesh key),
OASIS_IDENTITY_URL (default: the local identity port), OASIS_ADMIN_HANDLES (default --as).`;

function fail(message: string): never {
  throw new Error(`${message}\n${help}`);
}

export const command = {
  name: "roles",
  summary: "grant, revoke or show an account's moderator/admin roles",
  help,
  async run(args: string[], opts: { json: boolean }): Promise<void> {
    const asIndex = args.indexOf("--as");
    const actAs = asIndex >= 0 ? args[asIndex + 1] : (process.env.OASIS_ADMIN_HANDLES ?? "").split(",")[0]?.trim();
    const rest = asIndex >= 0 ? [...args.slice(0, asIndex), ...args.slice(asIndex + 2)] : args;
    const [verb, handle, role] = rest;
    if (!verb || !["grant", "revoke", "show"].includes(verb)) fail(`unknown verb "${verb ?? ""}"`);
    if (!handle) fail("missing <handle>");
    if (verb !== "show" && (!role || !roles.includes(role))) fail(`role must be one of ${roles.join(", ")}`);

    const identity = createMeshClient(IdentityService, upstreamsFrom(process.env).identity ?? [], {
      meshSecret: meshIdentityFrom(process.env, "operator"),
      audience: "identity",
      timeoutMs: 10_000,
    });
    const { profile } = await identity.getProfile({ lookup: { case: "handle", value: handle } }, asService());
    let out: { handle: string; userId: bigint; roles: string[] };
    if (verb === "show") {
      const r = await identity.getRoles({ userId: profile!.userId }, asService());
      out = { handle, userId: profile!.userId, roles: r.roles };
    } else {
      if (!actAs) fail("no admin to act as: pass --as <handle> or set OASIS_ADMIN_HANDLES");
      const admin = await identity.getProfile({ lookup: { case: "handle", value: actAs } }, asService());
      const call = asUser(undefined, admin.profile!.userId);
      const r = verb === "grant" ? await identity.grantRole({ handle, role }, call) : await identity.revokeRole({ handle, role }, call);
      out = { handle, userId: r.userId, roles: r.roles };
    }
    if (opts.json) console.log(JSON.stringify({ handle: out.handle, user_id: String(out.userId), roles: out.roles }));
    else console.log(`${out.handle} (${out.userId}): ${out.roles.length ? out.roles.join(", ") : "no roles"}`);
  },
};
