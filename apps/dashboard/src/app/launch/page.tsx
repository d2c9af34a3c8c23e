import { type JobKind, jobConfigSchemas } from "@rlhf/core/configs";
import { DemoPipelineButton } from "~/app/_components/launch/demo-pipeline";
import { LaunchForm } from "~/app/_components/launch/launch-form";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";

export const dynamic = "force-dynamic";

export default async function LaunchPage({
  searchParams,
}: {
  searchParams: Promise<{ kind?: string; from?: string }>;
}) {
  const params = await searchParams;
  const kind =
    params.kind && Object.hasOwn(jobConfigSchemas, params.kind) ? (params.kind as JobKind) : undefined;
  const from = params.from && /^[0-9a-f-]{36}$/i.test(params.from) ? params.from : undefined;
  await Promise.all([
    prefetch(trpc.launch.options.queryOptions()),
    from ? prefetch(trpc.runs.configs.queryOptions({ ids: [from] })) : Promise.resolve(),
  ]);
  return (
    <HydrateClient>
      <div className="page-head">
        <h1>Launch</h1>
        <p className="muted">
          Queue a run: any worker that reaches this database picks it up. The form is the job&apos;s config
          schema, the same one the CLI and the worker validate with.
        </p>
      </div>
      <div className="stack">
        <DemoPipelineButton />
        <LaunchForm initialKind={kind} fromId={from} />
      </div>
    </HydrateClient>
  );
}
