import { requireAdmin } from "~/server/session";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { GenerateForm } from "./generate-form";
import { ImportForm } from "./import-form";
import { Overview } from "./overview";

export const dynamic = "force-dynamic";

export default async function AdminPage() {
  await requireAdmin("/admin");
  await prefetch(trpc.admin.overview.queryOptions());
  return (
    <HydrateClient>
      <div className="page-head">
        <h1>Admin</h1>
        <p className="muted">
          Progress of every preference dataset, importing and exporting data, and tasks from a model.
        </p>
      </div>
      <div className="stack">
        <Overview />
        <div className="two-columns">
          <ImportForm />
          <GenerateForm />
        </div>
      </div>
    </HydrateClient>
  );
}
