/**
 * Reading the dashboard. On a workbench reachable only from its own machine, anyone there may read it; one
 * that listens beyond it (`rlhf start --host`) needs an account unless its owner turned on public reading
 * (RLHF_PUBLIC_READ). Either way, people who are not signed in never see email addresses, absolute paths
 * or host names: every answer to them is scrubbed of those (./scrub.ts). Serve runs' API keys are shown
 * to admins only.
 */
import type { Db } from "@rlhf/core/db";
import { runs } from "@rlhf/core/schema";
import { isNotNull, publicProcedure } from "@rlhf/core/trpc";
import { readingNeedsAccount } from "@rlhf/ui/env";
import { TRPCError } from "@trpc/server";
import { env } from "~/env";
import { hideSecrets, scrubForAnonymous } from "./scrub";

const needsAccount = readingNeedsAccount(env);

export const readProcedure = publicProcedure.use(async ({ ctx, next }) => {
  if (!ctx.session && needsAccount) {
    throw new TRPCError({
      code: "UNAUTHORIZED",
      message: "Sign in to read this workbench: its owner shares it with people who have an account.",
    });
  }
  const result = await next();
  if (!result.ok || ctx.session?.user.role === "admin") return result;
  // A serve run's API key is for admins; the rest of what strangers must not see, for strangers.
  if (ctx.session) return { ...result, data: hideSecrets(result.data) };
  return { ...result, data: scrubForAnonymous(result.data, await workerHosts(ctx.db)) };
});

let hostsCache: { at: number; hosts: Promise<string[]> } | undefined;

/** The machines that ran runs (their names appear in logs and errors), read at most every 30 s. */
function workerHosts(db: Db): Promise<string[]> {
  if (!hostsCache || Date.now() - hostsCache.at > 30_000) {
    const hosts = db
      .selectDistinct({ host: runs.workerHost })
      .from(runs)
      .where(isNotNull(runs.workerHost))
      .limit(1000)
      .then((rows) => rows.map((r) => r.host!));
    hostsCache = { at: Date.now(), hosts };
    hosts.catch(() => {
      hostsCache = undefined;
    });
  }
  return hostsCache.hosts;
}
