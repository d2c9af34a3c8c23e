"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { useSession } from "./session";

const LINKS = [
  { href: "/", label: "Runs", match: (p: string) => p === "/" || p.startsWith("/runs") },
  { href: "/compare", label: "Compare", match: (p: string) => p.startsWith("/compare") },
  { href: "/launch", label: "Launch", match: (p: string) => p.startsWith("/launch") },
  { href: "/data", label: "Data", match: (p: string) => p.startsWith("/data") },
  { href: "/playground", label: "Playground", match: (p: string) => p.startsWith("/playground") },
] as const;

export function SiteNav() {
  const pathname = usePathname();
  const { user } = useSession();
  return (
    <>
      <nav className="nav" aria-label="Main">
        {LINKS.map((link) => (
          <Link
            key={link.href}
            href={link.href}
            className="nav__link"
            aria-current={link.match(pathname) ? "page" : undefined}
          >
            {link.label}
          </Link>
        ))}
      </nav>
      <div className="user-box">
        {user ? (
          <a href="/login" className="user-box__link" title="Signed in: sign out on this page">
            <strong>{user.name}</strong>
            <span className="tag">{user.role}</span>
          </a>
        ) : (
          <a className="link" href={`/login?next=${encodeURIComponent(pathname)}`}>
            Sign in
          </a>
        )}
      </div>
    </>
  );
}
