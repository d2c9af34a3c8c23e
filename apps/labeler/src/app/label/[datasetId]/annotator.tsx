"use client";
/**
 * The annotating screen: one task at a time, every action on a key shown beside it (use-keys.ts). What the
 * annotator sees is in parts — the prompt, the responses (pair-view.tsx side by side, ranking-view.tsx as a
 * list), the answer bar, progress and keys (cards.tsx) — and the state in hooks: the task (use-task.ts),
 * the answer (use-answer.ts) and its submission (use-submit.ts). `taskId` opens one of the annotator's own
 * earlier answers to change it instead of the next task.
 */

import Link from "next/link";
import { useTranslations } from "next-intl";
import { useCallback, useRef } from "react";
import { Markdown } from "../../_components/markdown";
import { QueryError } from "../../_components/query-error";
import { toggledFlag } from "./answer";
import { AnswerBar } from "./answer-bar";
import { KeysCard, ProgressCard, UndoBar } from "./cards";
import { FlagChips } from "./flags";
import { PairView } from "./pair-view";
import { RankingView } from "./ranking-view";
import { useAnswer } from "./use-answer";
import { useKeys } from "./use-keys";
import { useSubmit } from "./use-submit";
import { type Task, useTask } from "./use-task";

interface AnnotatorProps {
  datasetId: string;
  datasetName: string;
  taskId?: string;
}

export function Annotator({ datasetId, datasetName, taskId }: AnnotatorProps) {
  const t = useTranslations("Annotator");
  const { editing, nextKey, task, ownAnswer, progress, pending, error } = useTask(datasetId, taskId);
  const answer = useAnswer(task, ownAnswer);
  const submission = useSubmit({ datasetId, task, answer, editing, nextKey });
  const noteRef = useRef<HTMLTextAreaElement>(null);
  const focusNote = useCallback(() => noteRef.current?.focus(), []);
  useKeys(task, answer, submission, focusNote);

  if (pending) return <p className="empty">{t("loading")}</p>;
  if (error) return <QueryError error={error} what={t("what")} />;

  const { lastSubmitted, canUndo, now, undo } = submission;
  const undoBar = lastSubmitted && canUndo && (
    <UndoBar lastSubmitted={lastSubmitted} now={now} onUndo={() => undo.mutate()} />
  );
  const side = (
    <aside className="stack">
      <ProgressCard progress={progress} />
      <KeysCard pairwise={task ? task.completions.length === 2 : false} />
    </aside>
  );

  if (!task) {
    return (
      <div className="layout">
        <section className="card empty" data-testid="no-task">
          <p>
            <strong>{t("nothingLeft", { dataset: datasetName })}</strong>
          </p>
          <p className="muted">{t("nothingLeftHint")}</p>
          {undoBar}
          <Link href="/" className="button">
            {t("backToDatasets")}
          </Link>
        </section>
        {side}
      </div>
    );
  }
  const { state } = answer;
  if (!state) return null;

  const pairwise = task.completions.length === 2;
  const flagsOf = (id: string) => (
    <FlagChips
      flags={state.flags[id] ?? []}
      onToggle={(flag) => answer.setState(toggledFlag(state, id, flag))}
    />
  );
  const Responses = pairwise ? PairView : RankingView;
  return (
    <div className="layout">
      <div className="stack" data-testid="task" data-task-id={task.taskId}>
        {undoBar}
        <PromptCard task={task} datasetName={datasetName} editing={editing} />
        <Responses task={task} state={state} answer={answer} flagsOf={flagsOf} />
        <AnswerBar
          task={task}
          state={state}
          answer={answer}
          submission={submission}
          editing={editing}
          noteRef={noteRef}
        />
      </div>
      {side}
    </div>
  );
}

function PromptCard({ task, datasetName, editing }: { task: Task; datasetName: string; editing: boolean }) {
  const t = useTranslations("Annotator");
  const count = task.completions.length;
  return (
    <section className="card prompt-card">
      <div className="card__head">
        <h2>{t("prompt")}</h2>
        <span className="muted">
          {editing
            ? t("changing")
            : count === 2
              ? t("pairwise", { dataset: datasetName })
              : t("rankK", { count, dataset: datasetName })}
        </span>
      </div>
      <div className="scroll-box scroll-box--prompt">
        <Markdown text={task.prompt} />
      </div>
    </section>
  );
}
