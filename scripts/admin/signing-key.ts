/** `bun run admin signing-key rotate`: identity's RotateSigningKey. */
import { toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { IdentityService, RotateSigningKeyResponseSchema } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { connectOperator } from "./lib/connection.ts";
import { output, parse, UsageError, type AdminCommand } from "./lib/command.ts";

const help = `bun run admin signing-key rotate [--json]

Rotates the key that signs access tokens: the new key is published in the JWKS at once
and signs 40 s later (edges refetch the JWKS for an unknown key at most every 30 s);
the old key stays published until the last token it signed has expired.`;

export const command: AdminCommand = {
  name: "signing-key",
  summary: "rotate the access-token signing key",
  help,
  async run(args, opts) {
    const { positionals } = parse(args, {});
    if (positionals[0] !== "rotate") throw new UsageError(`unknown verb "${positionals[0] ?? ""}"`);
    const res = await connectOperator().client(IdentityService, "identity").rotateSigningKey({});
    output(opts, toJson(RotateSigningKeyResponseSchema, res), () =>
      `new key ${res.kid} signs from ${res.signTime ? timestampDate(res.signTime).toISOString() : "?"}; published: ${res.publishedKids.join(", ")}`,
    );
  },
};
