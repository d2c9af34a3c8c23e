import { GeistSans } from "geist/font/sans";
import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";
import { currentUser } from "~/server/session";
import { TRPCReactProvider } from "~/trpc/react";
import { NavLink } from "./_components/nav-link";
import { UserMenu } from "./_components/user-menu";
import "@rlhf/ui/globals.css";
import "./globals.css";

export const metadata: Metadata = {
  title: "RLHF Workbench — Labeler",
  description: "Rank model outputs for the RLHF Workbench: preference datasets, agreement and exports.",
};

// The header shows who is signed in: every page is rendered per request (and the build never opens the
// database to prerender one).
export const dynamic = "force-dynamic";

export default async function RootLayout({ children }: { children: ReactNode }) {
  const { user } = await currentUser();
  return (
    <html lang="en" className={GeistSans.variable}>
      <body>
        <header className="site-header">
          <div className="site-header__inner">
            <Link href="/" className="brand">
              RLHF Workbench <span className="brand__app">— Labeler</span>
            </Link>
            {user && (
              <nav className="nav" aria-label="Main">
                <NavLink href="/">Label</NavLink>
                <NavLink href="/history">My answers</NavLink>
                {user.role === "admin" && <NavLink href="/admin">Admin</NavLink>}
                {user.role === "admin" && <NavLink href="/admin/users">People</NavLink>}
              </nav>
            )}
            {user && <UserMenu name={user.name} role={user.role} />}
          </div>
        </header>
        <TRPCReactProvider>
          <main className="page">{children}</main>
        </TRPCReactProvider>
      </body>
    </html>
  );
}
