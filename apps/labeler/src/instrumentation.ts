/**
 * Runs once when the server starts (Next.js's instrumentation hook). In Node.js, /api/trpc is answered
 * before Next's router: see server/before-next.ts for why and how.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const [{ serveBeforeNext }, { trpcHandler }] = await Promise.all([
    import("./server/before-next"),
    import("./server/api/handler"),
  ]);
  serveBeforeNext("/api/trpc/", trpcHandler);
}
