"use client";

import type { UserRole } from "@rlhf/core/schema";
import { signOut } from "@rlhf/ui/auth-client";
import { useTranslations } from "next-intl";

export function UserMenu({ name, role }: { name: string; role: UserRole }) {
  const t = useTranslations("UserMenu");
  return (
    <div className="user-menu">
      <span className="user-menu__name" data-testid="signed-in-as">
        {name} <span className="tag">{t(`role.${role}`)}</span>
      </span>
      <button type="button" className="button button--ghost" onClick={() => void signOut()}>
        {t("signOut")}
      </button>
    </div>
  );
}
