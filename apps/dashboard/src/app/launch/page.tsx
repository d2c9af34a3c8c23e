import { type JobKind, jobConfigSchemas } from "@rlhf/core/configs";
import { getTranslations } from "next-intl/server";
import { DemoPipelineButton } from "~/app/_components/launch/demo-pipeline";
import { LaunchForm } from "~/app/_components/launch/launch-form";
import { PageFrame } from "~/app/_components/page-frame";
import { prefetch, trpc } from "~/trpc/server";

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
  const [t] = await Promise.all([
    getTranslations("LaunchPage"),
    prefetch(trpc.launch.options.queryOptions()),
    from ? prefetch(trpc.runs.configs.queryOptions({ ids: [from] })) : Promise.resolve(),
  ]);
  return (
    <PageFrame title={t("title")} lead={t("lead")}>
      <div className="stack">
        <DemoPipelineButton />
        <LaunchForm initialKind={kind} fromId={from} />
      </div>
    </PageFrame>
  );
}
