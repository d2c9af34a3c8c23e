/**
 * "Did you mean …?" for a run reference that matches nothing: the existing run name closest to what was
 * typed, so `run:demo-sft` after the quick demo points at `demo-quick-sft`.
 */
import type { Db } from "../db/open";
import { runs } from "../db/schema";

/** Levenshtein distance: insertions, deletions and substitutions, each costing 1. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The name among `names` closest to `ref`: within a third of its length in edits, or holding every
 * dash-separated word of it (`ppo-demo` → `demo-quick-ppo`); the fewest edits wins.
 */
export function closestName(ref: string, names: Iterable<string>): string | undefined {
  const key = ref.replace(/^run:/, "");
  const words = key
    .toLowerCase()
    .split(/[-_\s]+/)
    .filter(Boolean);
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const distance = editDistance(key, name);
    const nameWords = new Set(name.toLowerCase().split(/[-_\s]+/));
    const close = distance <= Math.ceil(key.length / 3) || words.every((w) => nameWords.has(w));
    if (close && distance > 0 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** ` (did you mean "name"?)` for the closest existing run name, or "" when none is close. */
export async function didYouMean(db: Db, ref: string, prefix = ""): Promise<string> {
  const rows = await db.selectDistinct({ name: runs.name }).from(runs);
  const name = closestName(
    ref,
    rows.map((r) => r.name),
  );
  return name ? ` (did you mean ${prefix}${name}?)` : "";
}
