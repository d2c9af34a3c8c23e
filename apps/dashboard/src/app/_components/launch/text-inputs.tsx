"use client";

import { useEffect, useState } from "react";

/** A text box that keeps its own text and reports a parsed value. */
export interface TextInputProps {
  common: Record<string, unknown>;
  className: string;
  value: unknown;
  placeholder?: string;
  onChange: (value: unknown) => void;
}

/** A number as typed: text while it is not a number yet (so zod names the problem), a number once it is. */
export function NumberInput({ common, className, value, placeholder, onChange }: TextInputProps) {
  const [text, setText] = useState(value === undefined ? "" : String(value));
  useEffect(() => {
    // Follow outside changes (a config loaded to launch again), not our own keystrokes.
    const parsed = text.trim() === "" ? undefined : Number(text);
    if (value !== parsed && !(typeof value === "string" && value === text))
      setText(value === undefined ? "" : String(value));
  }, [value, text]);
  return (
    <input
      {...common}
      className={className}
      inputMode="decimal"
      value={text}
      placeholder={placeholder}
      onChange={(e) => {
        const next = e.target.value;
        setText(next);
        const trimmed = next.trim();
        onChange(trimmed === "" ? undefined : Number.isNaN(Number(trimmed)) ? trimmed : Number(trimmed));
      }}
    />
  );
}

/** JSON text; the parsed value when it parses, else the text itself (the schema then names the problem). */
export function JsonInput({ common, className, value, placeholder, onChange }: TextInputProps) {
  const [text, setText] = useState(
    value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value),
  );
  return (
    <textarea
      {...common}
      className={className}
      rows={4}
      spellCheck={false}
      value={text}
      placeholder={placeholder}
      onChange={(e) => {
        const next = e.target.value;
        setText(next);
        if (next.trim() === "") return onChange(undefined);
        try {
          onChange(JSON.parse(next));
        } catch {
          onChange(next);
        }
      }}
    />
  );
}
