import { GeistSans } from "geist/font/sans";
import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";
import { TRPCReactProvider } from "~/trpc/react";
import "./globals.css";

export const metadata: Metadata = {
  title: "RLHF Workbench — Dashboard",
  description: "Training runs of the RLHF Workbench: status, progress and the database behind them.",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" className={GeistSans.variable}>
      <body>
        <header className="site-header">
          <div className="site-header__inner">
            <Link href="/" className="brand">
              RLHF Workbench <span className="brand__app">— Dashboard</span>
            </Link>
            <nav className="nav" aria-label="Main">
              <Link href="/" className="nav__link" aria-current="page">
                Runs
              </Link>
              <span
                className="nav__link nav__link--soon"
                title="Launching jobs from the browser arrives later"
              >
                Launch <small>soon</small>
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
