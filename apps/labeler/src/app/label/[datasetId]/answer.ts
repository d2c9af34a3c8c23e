/**
 * The state of an answer being given, and the submission it becomes. Pure, so the rules (a tie is a group,
 * "both bad" orders nothing, strength only with a winner) are in one place.
 */
import type { ResponseFlag } from "@rlhf/core/labeling";

export type PairChoice = "a" | "b" | "tie" | "bad";

export interface AnswerState {
  /** K-wise: completion ids best first; pairwise: the display order. */
  order: string[];
  /** K-wise: ids tied with the response above them (one group). */
  tied: string[];
  /** K-wise: whether the order was changed since the task was shown. */
  touched: boolean;
  /** Pairwise choice. */
  choice: PairChoice | null;
  strength: 1 | 2 | null;
  /** K-wise: "none is acceptable". */
  allBad: boolean;
  flags: Record<string, ResponseFlag[]>;
  note: string;
}

export function initialAnswer(displayOrder: string[]): AnswerState {
  return {
    order: displayOrder,
    tied: [],
    touched: false,
    choice: null,
    strength: null,
    allBad: false,
    flags: {},
    note: "",
  };
}

/** The groups (best first) that an order with ties makes; the first response is never tied upwards. */
export function groupsOf(order: string[], tied: string[]): string[][] {
  const groups: string[][] = [];
  for (const [i, id] of order.entries()) {
    if (i > 0 && tied.includes(id)) groups[groups.length - 1]!.push(id);
    else groups.push([id]);
  }
  return groups;
}

/** How a response is named on screen: A/B side by side, numbers 1..K in a ranking. */
export const labelOf = (position: number, pairwise: boolean) =>
  pairwise ? "AB"[position]! : String(position + 1);

/** Why an answer cannot be submitted as it is: a key of the Annotator catalogue (messages/*.json). */
export type Problem = "chooseFirst" | "unchangedOrder";

/** The answer as the submit procedure takes it, or why it cannot be submitted yet. */
export function toSubmission(
  state: AnswerState,
  pairwise: boolean,
): { ranking: string[][] | null; allBad: boolean; strength: 1 | 2 | null } | { problem: Problem } {
  if (pairwise) {
    const [a, b] = state.order as [string, string];
    switch (state.choice) {
      case "a":
        return { ranking: [[a], [b]], allBad: false, strength: state.strength };
      case "b":
        return { ranking: [[b], [a]], allBad: false, strength: state.strength };
      case "tie":
        return { ranking: [[a, b]], allBad: false, strength: null };
      case "bad":
        return { ranking: null, allBad: true, strength: null };
      default:
        return { problem: "chooseFirst" };
    }
  }
  if (state.allBad) return { ranking: null, allBad: true, strength: null };
  return { ranking: groupsOf(state.order, state.tied), allBad: false, strength: null };
}

/** Move the response at `from` to `to` (drag and drop, or Shift+arrows). */
export function moved(state: AnswerState, from: number, to: number): AnswerState {
  if (to < 0 || to >= state.order.length || from === to) return state;
  const order = [...state.order];
  const [id] = order.splice(from, 1);
  order.splice(to, 0, id!);
  return { ...state, order, touched: true };
}

export function toggledFlag(state: AnswerState, completionId: string, flag: ResponseFlag): AnswerState {
  const current = state.flags[completionId] ?? [];
  const next = current.includes(flag) ? current.filter((f) => f !== flag) : [...current, flag];
  return { ...state, flags: { ...state.flags, [completionId]: next } };
}

/** A pairwise choice; a strength is kept only while one side wins. */
export function chosen(state: AnswerState, choice: PairChoice): AnswerState {
  return { ...state, choice, strength: choice === "a" || choice === "b" ? state.strength : null };
}

/** Pairwise strength, round the three values: not said → slightly → much → not said (only with a winner). */
export function cycledStrength(state: AnswerState): AnswerState {
  if (state.choice !== "a" && state.choice !== "b") return state;
  return { ...state, strength: state.strength === null ? 1 : state.strength === 1 ? 2 : null };
}

/** K-wise: tie the response at `index` with the one above it, or untie it (the first has nothing above). */
export function toggledTie(state: AnswerState, index: number): AnswerState {
  const id = state.order[index];
  if (index <= 0 || id === undefined) return state;
  const tied = state.tied.includes(id) ? state.tied.filter((x) => x !== id) : [...state.tied, id];
  return { ...state, tied, touched: true };
}

/** K-wise: "none is acceptable", on or off. */
export function toggledAllBad(state: AnswerState): AnswerState {
  return { ...state, allBad: !state.allBad };
}
