import { trpcHandler } from "~/server/api/handler";

// Reached when the server runs without the workbench's preload (`next dev`, a bare `next start`); with it,
// these calls are answered before Next's router (src/instrumentation.ts).
export { trpcHandler as GET, trpcHandler as POST };
