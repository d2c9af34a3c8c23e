"use client";

import { createTRPCReact } from "@rlhf/ui/trpc/react";
import type { AppRouter } from "~/server/api/root";

export const { useTRPC, useTRPCClient, TRPCReactProvider } = createTRPCReact<AppRouter>({
  source: "labeler-react",
});
