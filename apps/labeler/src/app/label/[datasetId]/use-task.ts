/**
 * The task on screen and the annotator's progress. Asking for the next task takes a lease, so it is a
 * mutation on the server; the page keeps its answer in the query cache like any other read. With `taskId`,
 * one of the annotator's own earlier answers instead, to change it.
 */
import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC, useTRPCClient } from "~/trpc/react";

export type Task = NonNullable<RouterOutputs["labeling"]["next"]>;
export type OwnAnswer = RouterOutputs["labeling"]["own"]["answer"];
export type Progress = RouterOutputs["labeling"]["progress"];

export function useTask(datasetId: string, taskId: string | undefined) {
  const trpc = useTRPC();
  const trpcClient = useTRPCClient();
  const editing = taskId !== undefined;
  const utcOffsetMinutes = useMemo(() => -new Date().getTimezoneOffset(), []);

  const nextKey = useMemo(() => ["labeling.next", datasetId] as const, [datasetId]);
  const next = useQuery({
    queryKey: nextKey,
    queryFn: () => trpcClient.labeling.next.mutate({ datasetId }),
    enabled: !editing,
    staleTime: Number.POSITIVE_INFINITY,
    refetchOnWindowFocus: false,
  });
  const own = useQuery(
    trpc.labeling.own.queryOptions(
      { taskId: taskId ?? "" },
      { enabled: editing, staleTime: Number.POSITIVE_INFINITY },
    ),
  );
  const progress = useQuery(trpc.labeling.progress.queryOptions({ datasetId, utcOffsetMinutes }));
  const task: Task | null | undefined = editing
    ? own.data && {
        taskId: own.data.taskId,
        datasetId,
        prompt: own.data.prompt,
        completions: own.data.completions,
        leaseExpiresAt: new Date(),
      }
    : next.data;
  const query = editing ? own : next;
  return {
    editing,
    nextKey,
    task,
    ownAnswer: own.data?.answer,
    progress: progress.data,
    pending: query.isPending,
    error: query.isError ? query.error : null,
  };
}
