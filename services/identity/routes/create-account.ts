/**
 * CreateAccount: a new account (handle and e-mail lowercase, argon2id password hash) and
 * its account_created event in one transaction; idempotent by request_id (the password
 * is left out of the fingerprint). ALREADY_EXISTS HANDLE_TAKEN; an e-mail in use answers
 * like a success and tells its owner (sign_up_email_in_use).
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { idempotentCreate } from "#kit/idempotency.ts";
import { isDuplicateKey } from "#kit/mysql.ts";
import { ErrorReason } from "#gen/oasis/identity/v1/errors_pb.ts";
import { AccountCreatedSchema, SignUpEmailInUseSchema } from "#gen/oasis/identity/v1/events_pb.ts";
import { CreateAccountRequestSchema, CreateAccountResponseSchema, type IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";
import { normalizeEmail, normalizeHandle } from "../domain/rules.ts";
import { hashOptions } from "../domain/sessions.ts";

export function createAccount(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "createAccount"> {
  const { rt, errors } = ctx;
  return {
    async createAccount(req) {
      const handle = normalizeHandle(req.handle);
      const email = normalizeEmail(req.email);
      // The password is not part of the fingerprint: request_log must never hold a fast
      // hash of it. A retry with another password replays the first result.
      const once = idempotentCreate(
        { scope: "CreateAccount", callerId: null, requestId: req.requestId },
        CreateAccountRequestSchema,
        create(CreateAccountRequestSchema, { ...req, password: "" }),
        CreateAccountResponseSchema,
      );
      const replay = await once.replay(rt.db);
      if (replay) return replay;
      const passwordHash = await Bun.password.hash(req.password, hashOptions(ctx));
      const { response } = await rt.tx((tx) =>
        once.run(tx, async () => {
          const userId = rt.ids.next();
          const now = new Date();
          const displayName = req.displayName || handle;
          try {
            await ctx.store.insertAccount(tx, { userId, handle, email, passwordHash, displayName, now });
          } catch (err) {
            if (isDuplicateKey(err, "accounts_handle")) {
              throw errors.alreadyExists(ErrorReason.HANDLE_TAKEN, `handle "${handle}" is taken`, { handle });
            }
            if (isDuplicateKey(err, "accounts_email")) {
              // Answer like a success, so sign-up tells nobody which addresses are
              // registered; the owner hears of the attempt out of band.
              const owner = await ctx.store.credentialsByLogin(tx, email);
              if (owner) await rt.outbox.add(tx, SignUpEmailInUseSchema, { userId: owner.userId, email, attemptedHandle: handle });
              return create(CreateAccountResponseSchema, { account: { userId, handle, email, createTime: timestampFromDate(now) } });
            }
            throw err;
          }
          const profile = (await ctx.store.profileById(tx, userId))!;
          await rt.outbox.add(tx, AccountCreatedSchema, { userId, handle, profile });
          return create(CreateAccountResponseSchema, {
            account: { userId, handle, email, createTime: timestampFromDate(now) },
          });
        }),
      );
      return response;
    },
  };
}
