/**
 * The answer being given to the task on screen, and what surrounds it: the selected response, flag mode,
 * the warning shown, the clock and the idempotency key of its submission. A new task starts a fresh answer
 * (or the one being changed, or the one just undone).
 */
import type { ResponseFlag } from "@rlhf/core/labeling";
import { useCallback, useEffect, useRef, useState } from "react";
import { type AnswerState, initialAnswer, moved, type Problem } from "./answer";
import type { OwnAnswer, Task } from "./use-task";

export type FlagMode = { step: "response" } | { step: "flag"; completionId: string } | null;

export function useAnswer(task: Task | null | undefined, ownAnswer: OwnAnswer | undefined) {
  // The answer and the task it belongs to: for the one render between a new task arriving and its answer
  // being set up, the old answer must not be drawn over the new task's responses.
  const [answer, setAnswer] = useState<{ taskId: string; state: AnswerState } | null>(null);
  const state = answer && task && answer.taskId === task.taskId ? answer.state : null;
  const setState = useCallback(
    (next: AnswerState) => setAnswer((current) => current && { taskId: current.taskId, state: next }),
    [],
  );
  const [flagMode, setFlagMode] = useState<FlagMode>(null);
  const [selected, setSelected] = useState(0);
  const [warning, setWarning] = useState<Problem | null>(null);
  const shownAt = useRef(Date.now());
  const idempotencyKey = useRef<string>("");
  /** An undone answer, to put back when its task comes round again. */
  const restore = useRef<{ taskId: string; state: AnswerState } | null>(null);

  const loadedTaskId = task?.taskId;
  // A new task (by id) resets the answer; nothing else does.
  useEffect(() => {
    if (!task) return;
    const display = task.completions.map((c) => c.id);
    let initial = initialAnswer(display);
    if (restore.current?.taskId === task.taskId) initial = restore.current.state;
    else if (ownAnswer) initial = answerFrom(ownAnswer, display);
    restore.current = null;
    setAnswer({ taskId: task.taskId, state: initial });
    setSelected(0);
    setFlagMode(null);
    setWarning(null);
    idempotencyKey.current = crypto.randomUUID();
    shownAt.current = Date.now();
  }, [loadedTaskId]);

  /** Move the response at `from` to `to` (drag, ▲ ▼, Shift+arrows), keeping it selected. */
  const move = useCallback(
    (from: number, to: number) => {
      if (!state || from < 0 || to < 0 || to >= state.order.length) return;
      setState(moved(state, from, to));
      setSelected(to);
      setWarning(null);
    },
    [state, setState],
  );

  /** A change of the answer that clears the warning (the warning was about the answer as it was). */
  const change = useCallback(
    (next: AnswerState) => {
      setState(next);
      setWarning(null);
    },
    [setState],
  );

  return {
    state,
    setState,
    change,
    move,
    flagMode,
    setFlagMode,
    selected,
    setSelected,
    warning,
    setWarning,
    shownAt,
    idempotencyKey,
    restore,
  };
}

export type Answer = ReturnType<typeof useAnswer>;

/** The answer state of one of the annotator's own stored answers, drawn on the task as shown. */
function answerFrom(answer: OwnAnswer, display: string[]): AnswerState {
  const base = {
    ...initialAnswer(display),
    flags: answer.flags as Record<string, ResponseFlag[]>,
    note: answer.note ?? "",
    strength: answer.strength,
  };
  if (display.length === 2) {
    if (answer.allBad) return { ...base, choice: "bad" };
    if (!answer.ranking) return base;
    if (answer.ranking.length === 1) return { ...base, choice: "tie" };
    return { ...base, choice: answer.ranking[0]![0] === display[0] ? "a" : "b" };
  }
  if (!answer.ranking) return { ...base, allBad: answer.allBad };
  const order = answer.ranking.flat();
  const tied = answer.ranking.flatMap((group) => group.slice(1));
  return { ...base, order, tied, touched: true };
}
