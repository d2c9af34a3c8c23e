import { GeistSans } from "geist/font/sans";
import type { Metadata } from "next";
import Link from "next/link";
import { NextIntlClientProvider } from "next-intl";
import { getLocale, getTranslations } from "next-intl/server";
import type { ReactNode } from "react";
import { TRPCReactProvider } from "~/trpc/react";
import { SiteNav } from "./_components/site-nav";
import "uplot/dist/uPlot.min.css";
import "@rlhf/ui/globals.css";
import "./globals.css";

export async function generateMetadata(): Promise<Metadata> {
  const t = await getTranslations("Layout");
  return { title: t("title"), description: t("description") };
}

export default async function RootLayout({ children }: { children: ReactNode }) {
  const [locale, t] = await Promise.all([getLocale(), getTranslations("Layout")]);
  return (
    <html lang={locale === "zh" ? "zh-Hans" : locale} className={GeistSans.variable}>
      <body>
        <NextIntlClientProvider>
          <TRPCReactProvider>
            <header className="site-header">
              <div className="site-header__inner">
                <Link href="/" className="brand">
                  {t("brand")} <span className="brand__app">{t("brandApp")}</span>
                </Link>
                <SiteNav />
              </div>
            </header>
            <main className="page">{children}</main>
          </TRPCReactProvider>
        </NextIntlClientProvider>
      </body>
    </html>
  );
}
