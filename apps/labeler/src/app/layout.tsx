import { GeistSans } from "geist/font/sans";
import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";
import { TRPCReactProvider } from "~/trpc/react";
import "./globals.css";

export const metadata: Metadata = {
  title: "RLHF Workbench — Labeler",
  description: "Rank model outputs for the RLHF Workbench: preference datasets and their labeling progress.",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" className={GeistSans.variable}>
      <body>
        <header className="site-header">
          <div className="site-header__inner">
            <Link href="/" className="brand">
              RLHF Workbench <span className="brand__app">— Labeler</span>
            </Link>
            <nav className="nav" aria-label="Main">
              <Link href="/" className="nav__link" aria-current="page">
                Datasets
              </Link>
              <span
                className="nav__link nav__link--soon"
                title="Ranking comparisons in the browser arrives later"
              >
                Rank <small>soon</small>
              </span>
            </nav>
          </div>
        </header>
        <TRPCReactProvider>
          <main className="page">{children}</main>
        </TRPCReactProvider>
      </body>
    </html>
  );
}
