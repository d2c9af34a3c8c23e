"use client";

import { useQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import type { ButtonHTMLAttributes } from "react";
import { useTRPC } from "~/trpc/react";

/**
 * The signed-in user (null: nobody), and whether they may launch and cancel; `adminOnly` says why a
 * button is disabled for everyone else.
 */
export function useSession() {
  const trpc = useTRPC();
  const t = useTranslations("Session");
  const me = useQuery(trpc.session.me.queryOptions(undefined, { staleTime: 60_000 }));
  const user = me.data ?? null;
  return { user, isAdmin: user?.role === "admin", isPending: me.isPending, adminOnly: t("adminOnly") };
}

/**
 * A button only admins may press (launch, cancel, serve): disabled for everyone else and while `busy`,
 * its title then saying why.
 */
export function AdminButton({
  busy = false,
  title,
  type = "button",
  ...rest
}: Omit<ButtonHTMLAttributes<HTMLButtonElement>, "disabled"> & { busy?: boolean }) {
  const { isAdmin, adminOnly } = useSession();
  return <button type={type} {...rest} disabled={!isAdmin || busy} title={isAdmin ? title : adminOnly} />;
}
