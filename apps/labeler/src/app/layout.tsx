import { LocalePicker } from "@rlhf/ui/locale-picker";
import { GeistSans } from "geist/font/sans";
import type { Metadata } from "next";
import Link from "next/link";
import { NextIntlClientProvider } from "next-intl";
import { getLocale, getTranslations } from "next-intl/server";
import type { ReactNode } from "react";
import { currentUser } from "~/server/session";
import { TRPCReactProvider } from "~/trpc/react";
import { NavLink } from "./_components/nav-link";
import { UserMenu } from "./_components/user-menu";
import "@rlhf/ui/globals.css";
import "./globals.css";

export async function generateMetadata(): Promise<Metadata> {
  const t = await getTranslations("Layout");
  return { title: t("title"), description: t("description") };
}

// The header shows who is signed in: every page is rendered per request (and the build never opens the
// database to prerender one).
export const dynamic = "force-dynamic";

export default async function RootLayout({ children }: { children: ReactNode }) {
  const [{ user }, locale, t] = await Promise.all([currentUser(), getLocale(), getTranslations("Layout")]);
  return (
    <html lang={locale === "zh" ? "zh-Hans" : locale} className={GeistSans.variable}>
      <body>
        <NextIntlClientProvider>
          <header className="site-header">
            <div className="site-header__inner">
              <Link href="/" className="brand">
                {t("brand")} <span className="brand__app">{t("brandApp")}</span>
              </Link>
              {user && (
                <nav className="nav" aria-label={t("mainNav")}>
                  <NavLink href="/">{t("label")}</NavLink>
                  <NavLink href="/history">{t("history")}</NavLink>
                  {user.role === "admin" && <NavLink href="/admin">{t("admin")}</NavLink>}
                  {user.role === "admin" && <NavLink href="/admin/users">{t("people")}</NavLink>}
                </nav>
              )}
              {user && <UserMenu name={user.name} role={user.role} />}
              <LocalePicker signedIn={user !== null} />
            </div>
          </header>
          <TRPCReactProvider>
            <main className="page">{children}</main>
          </TRPCReactProvider>
        </NextIntlClientProvider>
      </body>
    </html>
  );
}
