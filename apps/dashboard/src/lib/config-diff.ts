/** Configs side by side: every leaf path (objects flattened, arrays compared whole) and whether they differ. */

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): Map<string, unknown> {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) flatten(child, prefix ? `${prefix}.${key}` : key, out);
  } else if (prefix) {
    out.set(prefix, value);
  }
  return out;
}

export interface ConfigRow {
  path: string;
  /** Each config's value at the path (undefined where it has none). */
  values: unknown[];
  same: boolean;
}

/** Every leaf path of any of the configs, sorted, with each config's value. */
export function configTable(configs: unknown[]): ConfigRow[] {
  const flat = configs.map((c) => flatten(c, "", new Map()));
  const paths = [...new Set(flat.flatMap((f) => [...f.keys()]))].sort();
  return paths.map((path) => {
    const values = flat.map((f) => f.get(path));
    const shown = flat.map((f) => (f.has(path) ? JSON.stringify(f.get(path)) : "\u0000missing"));
    return { path, values, same: shown.every((s) => s === shown[0]) };
  });
}

export interface DiffRow {
  path: string;
  left: unknown;
  right: unknown;
  same: boolean;
}

export function configDiff(left: unknown, right: unknown): DiffRow[] {
  return configTable([left, right]).map(({ path, values, same }) => ({
    path,
    left: values[0],
    right: values[1],
    same,
  }));
}
