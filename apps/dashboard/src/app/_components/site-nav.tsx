"use client";

import { LocalePicker } from "@rlhf/ui/locale-picker";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useTranslations } from "next-intl";
import { useSession } from "./session";

const LINKS = [
  { href: "/", label: "runs", match: (p: string) => p === "/" || p.startsWith("/runs") },
  { href: "/compare", label: "compare", match: (p: string) => p.startsWith("/compare") },
  { href: "/launch", label: "launch", match: (p: string) => p.startsWith("/launch") },
  { href: "/data", label: "data", match: (p: string) => p.startsWith("/data") },
  { href: "/playground", label: "playground", match: (p: string) => p.startsWith("/playground") },
] as const;

export function SiteNav() {
  const t = useTranslations("Nav");
  const tStatus = useTranslations("Role");
  const pathname = usePathname();
  const { user } = useSession();
  return (
    <>
      <nav className="nav" aria-label={t("main")}>
        {LINKS.map((link) => (
          <Link
            key={link.href}
            href={link.href}
            className="nav__link"
            aria-current={link.match(pathname) ? "page" : undefined}
          >
            {t(link.label)}
          </Link>
        ))}
      </nav>
      <div className="user-box">
        {user ? (
          <a href="/login" className="user-box__link" title={t("signedInTitle")}>
            <strong>{user.name}</strong>
            <span className="tag">{tStatus(user.role === "admin" ? "admin" : "annotator")}</span>
          </a>
        ) : (
          <a className="link" href={`/login?next=${encodeURIComponent(pathname)}`}>
            {t("signIn")}
          </a>
        )}
        <LocalePicker signedIn={user !== null} />
      </div>
    </>
  );
}
