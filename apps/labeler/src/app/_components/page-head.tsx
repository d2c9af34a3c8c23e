import type { ReactNode } from "react";

/** A page's heading and the sentence under it that says what the page is for. */
export function PageHead({ title, intro }: { title: string; intro?: ReactNode }) {
  return (
    <div className="page-head">
      <h1>{title}</h1>
      {intro && <p className="muted">{intro}</p>}
    </div>
  );
}
