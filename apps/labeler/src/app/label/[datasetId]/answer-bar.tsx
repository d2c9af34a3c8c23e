"use client";
/** Under the responses: the note, what flag mode asks, warnings and errors, and the actions with their keys. */

import { useServerMessage } from "@rlhf/ui/query-error";
import { useTranslations } from "next-intl";
import type { Ref } from "react";
import { Kbd } from "../../_components/markdown";
import { type AnswerState, labelOf } from "./answer";
import { FLAGS } from "./flags";
import type { Answer } from "./use-answer";
import { type Submission, unconfirmed } from "./use-submit";
import type { Task } from "./use-task";

interface AnswerBarProps {
  task: Task;
  state: AnswerState;
  answer: Answer;
  submission: Submission;
  editing: boolean;
  noteRef: Ref<HTMLTextAreaElement>;
}

export function AnswerBar({ task, state, answer, submission, editing, noteRef }: AnswerBarProps) {
  const t = useTranslations("AnswerBar");
  const { submit, send } = submission;
  return (
    <section className="card">
      <label className="note">
        <span>
          {t("note")} <span className="muted">{t("optional")}</span> <Kbd>N</Kbd>
        </span>
        <textarea
          ref={noteRef}
          value={state.note}
          maxLength={4000}
          rows={2}
          placeholder={t("notePlaceholder")}
          onChange={(e) => answer.setState({ ...state, note: e.target.value })}
        />
      </label>
      <FlagModePrompt task={task} answer={answer} />
      <Messages answer={answer} submission={submission} />
      <div className="actions">
        <button
          type="button"
          className="button button--primary"
          onClick={() => send("answer")}
          disabled={submit.isPending}
        >
          {editing ? t("saveChange") : t("submit")} <Kbd>Enter</Kbd>
        </button>
        {!editing && (
          <button type="button" className="button" onClick={() => send("skip")} disabled={submit.isPending}>
            {t("skip")} <Kbd>S</Kbd>
          </button>
        )}
        <button type="button" className="button" onClick={() => answer.setFlagMode({ step: "response" })}>
          {t("flag")} <Kbd>F</Kbd>
        </button>
      </div>
    </section>
  );
}

/** What flag mode waits for: which response, then which flag (by digit). */
function FlagModePrompt({ task, answer }: { task: Task; answer: Answer }) {
  const t = useTranslations("AnswerBar");
  const flagNames = useTranslations("Flags");
  const { flagMode } = answer;
  if (!flagMode) return null;
  const pairwise = task.completions.length === 2;
  const position = (id: string) => task.completions.find((c) => c.id === id)!.position;
  return (
    <p className="flag-mode" role="status" data-testid="flag-mode">
      {flagMode.step === "response"
        ? t("flagWhich", { keys: pairwise ? t("flagWhichPairKeys") : `1–${task.completions.length}` })
        : t("flagAs", {
            label: labelOf(position(flagMode.completionId), pairwise),
            flags: FLAGS.map((f) => `${f.key} ${flagNames(f.flag)}`).join(" · "),
          })}
    </p>
  );
}

/** The warning about the answer, a submission being retried, or why it failed. */
function Messages({ answer, submission }: { answer: Answer; submission: Submission }) {
  const t = useTranslations("AnswerBar");
  const warnings = useTranslations("Annotator");
  const serverMessage = useServerMessage();
  const { submit } = submission;
  return (
    <>
      {answer.warning && (
        <p className="form-warning" role="alert" data-testid="warning">
          {warnings(answer.warning)}
        </p>
      )}
      {submit.isPending && submit.failureCount > 0 && (
        <p className="form-warning" role="status" data-testid="retrying">
          {t("retrying", { attempt: submit.failureCount + 1 })}
        </p>
      )}
      {submit.error && (
        <p className="form-error" role="alert">
          {unconfirmed(submit.error)
            ? t("notSaved")
            : submit.error.data?.code === "FORBIDDEN"
              ? t("notHeld")
              : submit.error.data?.code === "CONFLICT"
                ? t("filled")
                : serverMessage(submit.error).text}
        </p>
      )}
    </>
  );
}
