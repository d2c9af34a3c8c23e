"use client";

import type { ResponseFlag } from "@rlhf/core/labeling";
import { useTranslations } from "next-intl";

/** OpenAssistant's flags, with the digit that sets each in flag mode (F); their names are in Flags.*. */
export const FLAGS = [
  { key: "1", flag: "spam" },
  { key: "2", flag: "harmful" },
  { key: "3", flag: "wrong_language" },
  { key: "4", flag: "fails_task" },
] as const satisfies readonly { key: string; flag: ResponseFlag }[];

/** A response's flags as buttons that toggle them. */
export function FlagChips({
  flags,
  onToggle,
}: {
  flags: ResponseFlag[];
  onToggle: (flag: ResponseFlag) => void;
}) {
  const t = useTranslations("Flags");
  return (
    <div className="flags">
      {FLAGS.map((f) => (
        <button
          key={f.flag}
          type="button"
          className={`chip chip--flag${flags.includes(f.flag) ? " chip--on" : ""}`}
          aria-pressed={flags.includes(f.flag)}
          title={t("chipTitle", { key: f.key })}
          onClick={() => onToggle(f.flag)}
        >
          {t(f.flag)}
        </button>
      ))}
    </div>
  );
}
