/**
 * What people who are not signed in must not see, taken out of any answer: email addresses, absolute
 * filesystem paths (a checkpoint's directory becomes `…/step-000020`), the names of the machines that ran
 * or serve runs (`workerHost`, `workerId`, this server's own name), and serve runs' API keys.
 */
import os from "node:os";

const EMAIL = /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g;
// An absolute path of two or more parts, not part of a URL or a metric key ("http://h:80/v1", "train/loss").
const ABSOLUTE_PATH = /(?<![\w:/.~-])\/(?:[\w.@+~-]+\/)+([\w.@+~-]*)/g;
const SECRET_KEYS = new Set(["apiKey"]);
const HIDDEN_KEYS = new Set(["workerHost", "workerId", ...SECRET_KEYS]);

/** `value` with every string scrubbed and the hidden keys emptied; Dates, Maps and numbers kept. */
export function scrubForAnonymous<T>(value: T, workerHosts: string[] = []): T {
  const hosts = new Set<string>([os.hostname(), ...workerHosts]);
  collectHosts(value, hosts);
  const hostList = [...hosts].filter((h) => h.length >= 3).sort((a, b) => b.length - a.length);
  return walk(value, (text) => scrubText(text, hostList), HIDDEN_KEYS) as T;
}

/** `value` with serve runs' API keys hidden (for people signed in who are not admins). */
export function hideSecrets<T>(value: T): T {
  return walk(value, (text) => text, SECRET_KEYS) as T;
}

/** One string: emails, absolute paths and the given host names replaced. */
export function scrubText(text: string, hosts: string[] = [os.hostname()]): string {
  let out = text
    .replace(EMAIL, "(email hidden)")
    .replace(ABSOLUTE_PATH, (_path, last: string) => `…/${last}`);
  for (const host of hosts) out = out.replaceAll(host, "(host hidden)");
  return out;
}

function collectHosts(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) for (const item of value) collectHosts(item, into);
  else if (value && typeof value === "object" && !(value instanceof Date)) {
    for (const [key, item] of Object.entries(value)) {
      if (key === "workerHost" && typeof item === "string" && item) into.add(item);
      else collectHosts(item, into);
    }
  }
}

function walk(value: unknown, text: (s: string) => string, hidden: Set<string>): unknown {
  if (typeof value === "string") return text(value);
  if (Array.isArray(value)) return value.map((item) => walk(item, text, hidden));
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, walk(v, text, hidden)]));
  if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        hidden.has(key)
          ? item === null || item === undefined
            ? item
            : "(hidden)"
          : walk(item, text, hidden),
      ]),
    );
  }
  return value;
}
