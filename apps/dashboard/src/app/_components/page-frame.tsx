import type { ReactNode } from "react";
import { HydrateClient } from "~/trpc/server";

/**
 * A top-level page: the prefetched queries handed to the client, the page's title and lead, then its
 * content. Each page passes its own translated title and lead.
 */
export function PageFrame({ title, lead, children }: { title: string; lead: string; children: ReactNode }) {
  return (
    <HydrateClient>
      <div className="page-head">
        <h1>{title}</h1>
        <p className="muted">{lead}</p>
      </div>
      {children}
    </HydrateClient>
  );
}
