/** One colour per run on a chart, in the order the runs were picked (Tableau 10, readable on white). */
export const RUN_COLORS = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#59a14f",
  "#b07aa1",
  "#76b7b2",
  "#edc948",
  "#ff9da7",
  "#9c755f",
  "#4b4b4b",
] as const;

export const runColor = (index: number) => RUN_COLORS[index % RUN_COLORS.length]!;

/** `#rrggbb` at opacity `alpha`. */
export function withAlpha(hex: string, alpha: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}
