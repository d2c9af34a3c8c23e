/**
 * NUL characters (U+0000) in text. PostgreSQL's text and jsonb cannot hold them: a NUL reaching an insert
 * fails the whole statement with a server error (22P05/22021). Every way in (tRPC inputs, ingest, imports,
 * better-auth's endpoints) refuses them first with a 400 that names the field.
 */

/**
 * The dotted path of the first string (or object key) in `value` that holds a NUL, or undefined when none
 * does. `path` prefixes it ("" for the root, shown as "(root)").
 */
export function nulPath(value: unknown, path = ""): string | undefined {
  const here = (key: string) => (path ? `${path}.${key}` : key);
  if (typeof value === "string") return value.includes("\u0000") ? path || "(root)" : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulPath(value[i], here(String(i)));
      if (found) return found;
    }
    return undefined;
  }
  if (value && typeof value === "object" && !(value instanceof Date)) {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes("\u0000")) return here(key.replaceAll("\u0000", "\\u0000"));
      const found = nulPath(item, here(key));
      if (found) return found;
    }
  }
  return undefined;
}

/** What is wrong with a string that holds a NUL. */
export const NUL_PROBLEM = "contains a NUL character (\\u0000), which cannot be stored";

/** The message for a NUL found at `path`. */
export function nulMessage(path: string): string {
  return `${path}: ${NUL_PROBLEM}`;
}
