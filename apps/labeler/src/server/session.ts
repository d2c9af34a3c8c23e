/**
 * The signed-in user for server components and route handlers, from the request's session cookie. Pages
 * that need someone signed in send everyone else to the login page (or the first-start page while the
 * workbench has no admin); admin pages send annotators home.
 */
import { countAdmins } from "@rlhf/core/auth";
import { getDatabase, getSession, type SessionUser } from "@rlhf/core/trpc";
import type { Route } from "next";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { cache } from "react";
import { databaseOptions } from "./db";

export type CurrentUser =
  | { user: SessionUser | null; needsSetup: boolean; databaseError?: undefined }
  | { user: null; needsSetup: false; databaseError: string };

/** Once per request, however many components ask. A database that cannot be reached is reported, not thrown. */
export const currentUser = cache(async (): Promise<CurrentUser> => {
  let db: Awaited<ReturnType<typeof getDatabase>>["db"];
  try {
    db = (await getDatabase(databaseOptions)).db;
  } catch (error) {
    return {
      user: null,
      needsSetup: false,
      databaseError: `Database unreachable: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  const session = await getSession(await headers(), db);
  return { user: session?.user ?? null, needsSetup: session ? false : (await countAdmins(db)) === 0 };
});

/** The signed-in user, or a redirect to sign in (and come back to `next`). */
export async function requireUser(next: string): Promise<SessionUser> {
  const current = await currentUser();
  if (current.databaseError) throw new Error(current.databaseError);
  if (!current.user) {
    if (current.needsSetup) redirect("/setup");
    redirect(`/login?next=${encodeURIComponent(next)}` as Route);
  }
  return current.user;
}

export async function requireAdmin(next: string): Promise<SessionUser> {
  const user = await requireUser(next);
  if (user.role !== "admin") redirect("/");
  return user;
}
