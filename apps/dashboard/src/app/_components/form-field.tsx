import type { CSSProperties, ReactNode } from "react";

/**
 * One labelled input of a form: the label tied to the control by `id`, the control, then either the
 * error under it or the line that says what the field is for.
 */
export function FormField({
  id,
  label,
  doc,
  error,
  style,
  children,
}: {
  /** The control's element id, which the label points at (`import-file`): the same in every language. */
  id: string;
  label: ReactNode;
  doc?: ReactNode;
  error?: string;
  style?: CSSProperties;
  children: ReactNode;
}) {
  return (
    <div className="field" style={style}>
      <label className="field__label" htmlFor={id}>
        {label}
      </label>
      {children}
      {error ? (
        <span className="field__error">{error}</span>
      ) : (
        doc !== undefined && <span className="field__doc">{doc}</span>
      )}
    </div>
  );
}
