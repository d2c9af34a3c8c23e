/**
 * `rlhf tokens create|list|revoke`: the tokens a training script elsewhere sends its metrics with.
 */
import { createApiToken, listApiTokens, revokeApiToken } from "@rlhf/core/ingest";
import { ago, type JsonOption, out, printJson, table, withDatabase } from "./output";

export async function tokensCreateCommand(name: string, options: JsonOption) {
  await withDatabase(async (database) => {
    const token = await createApiToken(database, { name });
    if (options.json) return printJson(token);
    out(
      `token "${token.name}" (${token.id}):\n\n  ${token.token}\n\nshown once; only its hash is stored. Use it as: Authorization: Bearer <token>`,
    );
  });
}

export async function tokensListCommand(options: JsonOption) {
  await withDatabase(async (database) => {
    const tokens = await listApiTokens(database);
    if (options.json) return printJson(tokens);
    if (tokens.length === 0) return out("no tokens (create one: pnpm rlhf tokens create <name>)");
    out(
      table([
        ["ID", "NAME", "CREATED", "LAST USED", "REVOKED"],
        ...tokens.map((t) => [
          t.id,
          t.name,
          ago(t.createdAt),
          ago(t.lastUsedAt),
          t.revokedAt ? ago(t.revokedAt) : "-",
        ]),
      ]),
    );
  });
}

export async function tokensRevokeCommand(ref: string, options: JsonOption) {
  await withDatabase(async (database) => {
    const revoked = await revokeApiToken(database, ref);
    if (options.json) return printJson({ revoked });
    if (revoked === 0) throw new Error(`no active token with id or name "${ref}"`);
    out(`revoked ${revoked} token(s)`);
  });
}
