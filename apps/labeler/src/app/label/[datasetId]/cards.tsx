"use client";
/** The side column of the annotating screen, and the bar that offers to undo the last answer. */

import { useTranslations } from "next-intl";
import { Kbd } from "../../_components/markdown";
import { labelOf } from "./answer";
import { type Submitted, UNDO_MS } from "./use-submit";
import type { Progress } from "./use-task";

export function ProgressCard({ progress }: { progress: Progress | undefined }) {
  const t = useTranslations("Progress");
  const counts = [
    ["doneToday", progress?.doneToday, "done-today"],
    ["total", progress?.total, "total"],
    ["queueLeft", progress?.queueLeft, "queue-left"],
    ["todayAll", progress?.doneTodayAll, undefined],
  ] as const;
  return (
    <section className="card" aria-labelledby="progress-heading" data-testid="progress">
      <div className="card__head">
        <h2 id="progress-heading">{t("heading")}</h2>
      </div>
      <dl className="counts">
        {counts.map(([name, value, testId]) => (
          <div key={name} className="counts__item">
            <dt>{t(name)}</dt>
            <dd className="num" data-testid={testId}>
              {value ?? "–"}
            </dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

type KeyName =
  | "aBetter"
  | "bBetter"
  | "tie"
  | "bothBad"
  | "strength"
  | "select"
  | "selectAdjacent"
  | "move"
  | "tieAbove"
  | "noneAcceptable"
  | "flag"
  | "note"
  | "submit"
  | "skip"
  | "undo";

/** The keys, the same in every language (use-keys.ts); only what they do is translated. */
const PAIR_KEYS: [string, KeyName][] = [
  ["1 / ←", "aBetter"],
  ["2 / →", "bBetter"],
  ["T", "tie"],
  ["B", "bothBad"],
  ["M", "strength"],
];
const RANK_KEYS: [string, KeyName][] = [
  ["1–9", "select"],
  ["↑ ↓", "selectAdjacent"],
  ["Shift ↑↓", "move"],
  ["T", "tieAbove"],
  ["B", "noneAcceptable"],
];
const COMMON_KEYS: [string, KeyName][] = [
  ["F", "flag"],
  ["N", "note"],
  ["Enter", "submit"],
  ["S", "skip"],
  ["U", "undo"],
];

export function KeysCard({ pairwise }: { pairwise: boolean }) {
  const t = useTranslations("Keys");
  const rows = [...(pairwise ? PAIR_KEYS : RANK_KEYS), ...COMMON_KEYS];
  return (
    <section className="card" aria-labelledby="keys-heading">
      <div className="card__head">
        <h2 id="keys-heading">{t("heading")}</h2>
      </div>
      <dl className="keys">
        {rows.map(([key, what]) => (
          <div key={key} className="keys__row">
            <dt>
              <Kbd>{key}</Kbd>
            </dt>
            <dd>{t(`keys.${what}`)}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

/** "Saved. Written by: A = policy-ppo, B = policy-sft", and Undo (U) with the seconds left. */
export function UndoBar({
  lastSubmitted,
  now,
  onUndo,
}: {
  lastSubmitted: Submitted;
  now: number;
  onUndo: () => void;
}) {
  const t = useTranslations("UndoBar");
  const pairwise = lastSubmitted.sources.length === 2;
  const left = Math.min(UNDO_MS / 1000, Math.max(0, Math.ceil((UNDO_MS - (now - lastSubmitted.at)) / 1000)));
  return (
    <div className="undo-bar" role="status" data-testid="undo-bar">
      <span>
        {t("saved")}{" "}
        {lastSubmitted.sources.map((s, i) => (
          <span key={s.completionId}>
            {i > 0 && ", "}
            {labelOf(s.position, pairwise)} = <strong>{s.source}</strong>
          </span>
        ))}
      </span>
      <button type="button" className="button button--ghost" onClick={onUndo}>
        {t("undo")} <Kbd>U</Kbd> <span className="muted num">{t("secondsLeft", { seconds: left })}</span>
      </button>
    </div>
  );
}
