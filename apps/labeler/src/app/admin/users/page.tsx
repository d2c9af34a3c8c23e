import { requireAdmin } from "~/server/session";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { People } from "./people";

export const dynamic = "force-dynamic";

export default async function PeoplePage() {
  const me = await requireAdmin("/admin/users");
  await prefetch(trpc.admin.users.queryOptions());
  return (
    <HydrateClient>
      <div className="page-head">
        <h1>People</h1>
        <p className="muted">Invite annotators, change roles, block accounts.</p>
      </div>
      <People myId={me.id} />
    </HydrateClient>
  );
}
