/**
 * Sending the answer (or a skip), retrying what the server did not confirm, and undoing the last answer
 * within a minute. When not changing an old answer, the reply carries the next task.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import type { Route } from "next";
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useState } from "react";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { type AnswerState, toSubmission } from "./answer";
import type { Answer } from "./use-answer";
import type { Task } from "./use-task";

export type Sources = RouterOutputs["labeling"]["submit"]["sources"];
export type Submitted = { taskId: string; state: AnswerState; sources: Sources; at: number };

export const UNDO_MS = 60_000;

/** Retries of an unconfirmed answer: with the backoff below, about two and a half minutes in all. */
const SUBMIT_RETRIES = 12;

/**
 * Whether a failed submission may have been lost on the way rather than refused: no HTTP answer at all,
 * or the server could not reach its database (503). A refusal (bad answer, not yours) is final.
 */
export function unconfirmed(error: { data?: { httpStatus?: number } | null }): boolean {
  return !error.data || error.data.httpStatus === 503;
}

interface SubmitOptions {
  datasetId: string;
  task: Task | null | undefined;
  answer: Answer;
  editing: boolean;
  nextKey: readonly unknown[];
}

export function useSubmit({ datasetId, task, answer, editing, nextKey }: SubmitOptions) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const [lastSubmitted, setLastSubmitted] = useState<Submitted | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const { state } = answer;
  const pairwise = task ? task.completions.length === 2 : false;

  useEffect(() => {
    if (!lastSubmitted) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [lastSubmitted]);

  const refresh = useCallback(async () => {
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: nextKey }),
      queryClient.invalidateQueries({ queryKey: trpc.labeling.progress.queryKey() }),
    ]);
  }, [queryClient, trpc, nextKey]);

  const submit = useMutation(
    trpc.labeling.submit.mutationOptions({
      // An answer the server did not confirm (no reply, or the database unreachable) is sent again with
      // the same key, so it is stored once however many times it arrives; the page says it is retrying.
      retry: (failures, error) => unconfirmed(error) && failures < SUBMIT_RETRIES,
      retryDelay: (failures) => Math.min(1000 * 2 ** failures, 15_000),
      onSuccess: async (result, variables) => {
        if (state && !variables.skipped)
          setLastSubmitted({ taskId: variables.taskId, state, sources: result.sources, at: Date.now() });
        else setLastSubmitted(null);
        if (editing) {
          await queryClient.invalidateQueries({ queryKey: trpc.labeling.mine.queryKey() });
          router.push("/history" as Route);
          return;
        }
        if (result.next !== undefined) queryClient.setQueryData(nextKey, result.next);
        await queryClient.invalidateQueries({ queryKey: trpc.labeling.progress.queryKey() });
      },
      onError: async (error) => {
        // The task filled up meanwhile (its lease ran out): nothing to retry, take the next one.
        if (error.data?.code === "CONFLICT" && !editing) await refresh();
      },
    }),
  );
  const undo = useMutation(
    trpc.labeling.undo.mutationOptions({
      onSuccess: async (result) => {
        if (result && lastSubmitted?.taskId === result.taskId)
          answer.restore.current = { taskId: result.taskId, state: lastSubmitted.state };
        setLastSubmitted(null);
        await refresh();
      },
    }),
  );

  const { warning, setWarning, shownAt, idempotencyKey } = answer;
  const send = useCallback(
    (kind: "answer" | "skip") => {
      if (!task || !state || submit.isPending) return;
      const base = {
        taskId: task.taskId,
        timeMs: Date.now() - shownAt.current,
        idempotencyKey: idempotencyKey.current,
        nextIn: editing ? undefined : datasetId,
      };
      if (kind === "skip") return submit.mutate({ ...base, skipped: true });
      const submission = toSubmission(state, pairwise);
      if ("problem" in submission) return setWarning(submission.problem);
      if (!pairwise && !state.touched && !state.allBad && !editing && warning === null)
        return setWarning("unchangedOrder");
      setWarning(null);
      submit.mutate({
        ...base,
        ranking: submission.ranking,
        allBad: submission.allBad,
        strength: submission.strength,
        flags: state.flags,
        note: state.note || undefined,
      });
    },
    [task, state, submit, pairwise, editing, warning, datasetId, setWarning, shownAt, idempotencyKey],
  );

  const canUndo = lastSubmitted !== null && now - lastSubmitted.at < UNDO_MS && !editing;
  return { submit, undo, send, lastSubmitted, now, canUndo };
}

export type Submission = ReturnType<typeof useSubmit>;
