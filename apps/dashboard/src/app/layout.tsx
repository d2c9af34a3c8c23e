import { GeistSans } from "geist/font/sans";
import type { Metadata } from "next";
import Link from "next/link";
import { NextIntlClientProvider } from "next-intl";
import { getLocale } from "next-intl/server";
import type { ReactNode } from "react";
import { TRPCReactProvider } from "~/trpc/react";
import { SiteNav } from "./_components/site-nav";
import "uplot/dist/uPlot.min.css";
import "@rlhf/ui/globals.css";
import "./globals.css";

export const metadata: Metadata = {
  title: "RLHF Workbench — Dashboard",
  description:
    "Training runs of the RLHF Workbench: live curves, samples, launching and the data behind them.",
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  const locale = await getLocale();
  return (
    <html lang={locale === "zh" ? "zh-Hans" : locale} className={GeistSans.variable}>
      <body>
        <NextIntlClientProvider>
          <TRPCReactProvider>
            <header className="site-header">
              <div className="site-header__inner">
                <Link href="/" className="brand">
                  RLHF Workbench <span className="brand__app">— Dashboard</span>
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
