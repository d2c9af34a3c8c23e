"use client";

import { createTRPCReact } from "@rlhf/ui/trpc/react";
import type { AppRouter } from "~/server/api/root";

export const { useTRPC, useTRPCClient, TRPCReactProvider } = createTRPCReact<AppRouter>({
  source: "dashboard-react",
  // Queries as POST: a page of charts asks for many series and cursors at once, more than a URL holds.
  methodOverride: "POST",
});
