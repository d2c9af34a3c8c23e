"use client";

import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "~/trpc/react";

/** The signed-in user (null: nobody), and whether they may launch and cancel. */
export function useSession() {
  const trpc = useTRPC();
  const me = useQuery(trpc.session.me.queryOptions(undefined, { staleTime: 60_000 }));
  const user = me.data ?? null;
  return { user, isAdmin: user?.role === "admin", isPending: me.isPending };
}

export const ADMIN_ONLY = "Only admins can launch and cancel runs: sign in as an admin.";
