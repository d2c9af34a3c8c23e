/**
 * "Did you mean …?" for a run reference that matches nothing: the existing run name closest to what was
 * typed, so `run:demo-sft` after the quick demo points at `demo-quick-sft`.
 */
import type { Db } from "../db/open";
import { runs } from "../db/schema";
import { editDistance } from "../edit-distance";

export { editDistance };

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
