/**
 * Every action of the annotating screen has a key (the keys card lists them; they are the same in every
 * language). Typing in the note only listens for Escape and Ctrl/⌘+Enter.
 */
import { useEffect } from "react";
import { chosen, cycledStrength, type PairChoice, toggledAllBad, toggledFlag, toggledTie } from "./answer";
import { FLAGS } from "./flags";
import type { Answer } from "./use-answer";
import type { Submission } from "./use-submit";
import type { Task } from "./use-task";

interface KeyContext {
  task: Task;
  answer: Answer & { state: NonNullable<Answer["state"]> };
  pairwise: boolean;
  send: Submission["send"];
  focusNote: () => void;
}

export function useKeys(
  task: Task | null | undefined,
  answer: Answer,
  submission: Submission,
  focusNote: () => void,
) {
  const pairwise = task ? task.completions.length === 2 : false;
  const { canUndo, undo, send } = submission;
  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      const inText = event.target instanceof HTMLTextAreaElement || event.target instanceof HTMLInputElement;
      const plain = !event.ctrlKey && !event.metaKey && !event.altKey;
      // Undo works on the "nothing left" screen too: the last answer may have been the last task.
      if (!inText && !answer.flagMode && plain && event.key.toLowerCase() === "u" && canUndo) {
        event.preventDefault();
        undo.mutate();
        return;
      }
      const { state } = answer;
      if (!task || !state) return;
      if (inText) {
        if (event.key === "Escape") (event.target as HTMLElement).blur();
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          send("answer");
        }
        return;
      }
      if (!plain) return;
      const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      const context: KeyContext = { task, answer: { ...answer, state }, pairwise, send, focusNote };
      const handled = answer.flagMode
        ? flagKey(context, key)
        : commonKey(context, key) ||
          (pairwise ? pairKey(context, key) : rankKey(context, key, event.shiftKey));
      if (handled) event.preventDefault();
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [task, answer, pairwise, send, canUndo, undo, focusNote]);
}

/** Flag mode (after F): which response, then which flag; Escape leaves. Every key is taken. */
function flagKey({ task, answer, pairwise }: KeyContext, key: string): boolean {
  const { flagMode, setFlagMode, state, setState } = answer;
  if (key === "Escape" || !flagMode) {
    setFlagMode(null);
    return true;
  }
  if (flagMode.step === "response") {
    const pairPosition = key === "a" || key === "1" ? 0 : key === "b" || key === "2" ? 1 : -1;
    const completion = task.completions[pairwise ? pairPosition : Number(key) - 1];
    if (completion) setFlagMode({ step: "flag", completionId: completion.id });
    return true;
  }
  const flag = FLAGS.find((f) => f.key === key);
  if (flag) {
    setState(toggledFlag(state, flagMode.completionId, flag.flag));
    setFlagMode(null);
  }
  return true;
}

/** Keys of both kinds of task: submit, skip, flag, note. */
function commonKey({ answer, send, focusNote }: KeyContext, key: string): boolean {
  if (key === "Enter") send("answer");
  else if (key === "s") send("skip");
  else if (key === "f") answer.setFlagMode({ step: "response" });
  else if (key === "n") focusNote();
  else return false;
  return true;
}

const PAIR_KEYS: Record<string, PairChoice> = {
  "1": "a",
  ArrowLeft: "a",
  "2": "b",
  ArrowRight: "b",
  t: "tie",
  b: "bad",
};

/** Side by side: 1/← A, 2/→ B, T tie, B both bad, M strength. */
function pairKey({ answer }: KeyContext, key: string): boolean {
  const choice = PAIR_KEYS[key];
  if (choice) {
    answer.change(chosen(answer.state, choice));
    return true;
  }
  if (key === "m" && (answer.state.choice === "a" || answer.state.choice === "b")) {
    answer.setState(cycledStrength(answer.state));
    return true;
  }
  return false;
}

/** A ranking: 1–9 select, ↑↓ select the neighbour, Shift+↑↓ move, T tie with the one above, B none acceptable. */
function rankKey({ task, answer }: KeyContext, key: string, shift: boolean): boolean {
  const { state, selected, setSelected } = answer;
  if (/^[1-9]$/.test(key)) {
    const id = task.completions[Number(key) - 1]?.id;
    if (!id) return false;
    setSelected(state.order.indexOf(id));
    return true;
  }
  if (key === "ArrowUp" || key === "ArrowDown") {
    const step = key === "ArrowUp" ? -1 : 1;
    if (shift) answer.move(selected, selected + step);
    else setSelected(Math.min(state.order.length - 1, Math.max(0, selected + step)));
    return true;
  }
  if (key === "t" && selected > 0) {
    answer.change(toggledTie(state, selected));
    return true;
  }
  if (key === "b") {
    answer.setState(toggledAllBad(state));
    return true;
  }
  return false;
}
