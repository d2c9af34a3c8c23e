"use client";
/** A pairwise task: the two responses side by side, then the choice and how much better. */

import { useTranslations } from "next-intl";
import type { ReactNode } from "react";
import { Kbd, Markdown } from "../../_components/markdown";
import { type AnswerState, chosen, labelOf, type PairChoice } from "./answer";
import type { Answer } from "./use-answer";
import type { Task } from "./use-task";

const CHOICES = [
  { choice: "a", key: "1", label: "aBetter" },
  { choice: "b", key: "2", label: "bBetter" },
  { choice: "tie", key: "T", label: "tie" },
  { choice: "bad", key: "B", label: "bothBad" },
] as const;

const STRENGTHS = [null, 1, 2] as const;

interface PairViewProps {
  task: Task;
  state: AnswerState;
  answer: Answer;
  flagsOf: (id: string) => ReactNode;
}

export function PairView({ task, state, answer, flagsOf }: PairViewProps) {
  const t = useTranslations("Annotator");
  return (
    <>
      <div className="pair">
        {task.completions.map((c) => (
          <section
            key={c.id}
            className={`card response${isWinner(state.choice, c.position) ? " response--chosen" : ""}${state.choice === "bad" ? " response--bad" : ""}`}
            data-testid={`response-${labelOf(c.position, true)}`}
          >
            <div className="card__head">
              <h2>{t("response", { label: labelOf(c.position, true) })}</h2>
              {flagsOf(c.id)}
            </div>
            <div className="scroll-box">
              <Markdown text={c.response} />
            </div>
          </section>
        ))}
      </div>
      <section className="card choices" aria-label={t("yourAnswer")}>
        <div className="choice-row">
          {CHOICES.map((c) => (
            <Choice
              key={c.choice}
              active={state.choice === c.choice}
              keyHint={c.key}
              onClick={() => answer.change(chosen(state, c.choice))}
            >
              {t(c.label)}
            </Choice>
          ))}
        </div>
        <div className="strength-row">
          <span className="muted">
            {t("howMuch")} <Kbd>M</Kbd>
          </span>
          {STRENGTHS.map((s) => (
            <button
              key={String(s)}
              type="button"
              className={`chip${state.strength === s ? " chip--on" : ""}`}
              disabled={state.choice !== "a" && state.choice !== "b"}
              onClick={() => answer.setState({ ...state, strength: s })}
            >
              {t(`strength.${s ?? "none"}`)}
            </button>
          ))}
        </div>
      </section>
    </>
  );
}

function isWinner(choice: PairChoice | null, position: number): boolean {
  return (choice === "a" && position === 0) || (choice === "b" && position === 1) || choice === "tie";
}

/** A button of an answer, with the key that does the same. */
export function Choice({
  active,
  keyHint,
  onClick,
  disabled,
  children,
}: {
  active: boolean;
  keyHint: string;
  onClick: () => void;
  disabled?: boolean;
  children: ReactNode;
}) {
  return (
    <button
      type="button"
      aria-pressed={active}
      className={`choice${active ? " choice--on" : ""}`}
      onClick={onClick}
      disabled={disabled}
    >
      <Kbd>{keyHint}</Kbd> {children}
    </button>
  );
}
