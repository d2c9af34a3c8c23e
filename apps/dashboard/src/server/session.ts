/**
 * The signed-in user for server components and route handlers, from the request's session cookie (the
 * same accounts and sessions as the labeler: one workbench, one database). tRPC procedures get it from
 * their context instead (`ctx.session`, filled by createContext).
 */
import { getDatabase, getSession, type SessionUser } from "@rlhf/core/trpc";
import { headers } from "next/headers";
import { cache } from "react";
import { databaseOptions } from "./db";

/** Once per request; null when nobody is signed in (or the database cannot be reached). */
export const currentUser = cache(async (): Promise<SessionUser | null> => {
  try {
    const { db } = await getDatabase(databaseOptions);
    return (await getSession(await headers(), db))?.user ?? null;
  } catch {
    return null;
  }
});
