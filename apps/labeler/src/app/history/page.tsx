import { requireUser } from "~/server/session";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { History } from "./history";

export const dynamic = "force-dynamic";

export default async function HistoryPage() {
  await requireUser("/history");
  await prefetch(trpc.labeling.mine.queryOptions());
  return (
    <HydrateClient>
      <div className="page-head">
        <h1>My answers</h1>
        <p className="muted">Your own answers, newest first. Open one to look at it again or change it.</p>
      </div>
      <History />
    </HydrateClient>
  );
}
