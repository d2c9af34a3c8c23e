"use client";

import { useTranslations } from "next-intl";

export function SignOutButton() {
  const t = useTranslations("LoginPage");
  return (
    <button
      type="button"
      className="btn"
      onClick={async () => {
        await fetch("/api/auth/sign-out", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
        });
        window.location.assign("/login");
      }}
    >
      {t("signOut")}
    </button>
  );
}
