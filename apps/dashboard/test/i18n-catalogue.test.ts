/**
 * The dashboard speaks English and Simplified Chinese: every visible string of its pages and components
 * comes from messages/{en,zh}.json (the checks of @rlhf/ui/i18n/catalogue-check, which the labeler's test
 * shows can fail), both catalogues have the same keys and placeholders, every Chinese message is
 * translated, every key is used and every key used exists. Fails naming the file and line, or the key.
 */
import { fileURLToPath } from "node:url";
import { RUN_STATUSES } from "@rlhf/core/schema";
import {
  type Catalogue,
  flatKeys,
  keyUse,
  placeholders,
  sourceFiles,
  untranslatedLiterals,
  unusedAndMissing,
} from "@rlhf/ui/i18n/catalogue-check";
import { uiMessages } from "@rlhf/ui/i18n/request";
import { describe, expect, it } from "vitest";
import en from "../messages/en.json";
import zh from "../messages/zh.json";

const at = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));
// Pages and components (not the API routes, whose answers are the server's).
const files = sourceFiles([at("../src/app")]).filter((file) => !file.includes("/src/app/api/"));
const catalogues: Record<"en" | "zh", Catalogue> = {
  en: { ...uiMessages.en, ...en },
  zh: { ...uiMessages.zh, ...zh },
};

/** Messages that are names or symbols, the same in both languages. */
const SAME =
  /^(Layout\.brand|.*\.kl|RunsTable\.columns\.kl|.*\.(topK|topP)\.label|DataView\.preferences\.alpha)$/;

describe("the dashboard's catalogues", () => {
  it("finds the components to check", () => {
    expect(files.length).toBeGreaterThan(40);
    for (const name of ["launch-form.tsx", "run-page.tsx", "playground-view.tsx", "layout.tsx"])
      expect(files.some((f) => f.endsWith(`/${name}`))).toBe(true);
  });

  it("writes no visible string outside the catalogue", () => {
    const findings = untranslatedLiterals(files).map(
      (f) => `${f.file.replace(/^.*?apps\//, "apps/")}:${f.line} ${JSON.stringify(f.text)}`,
    );
    expect(findings).toEqual([]);
  });

  it("has every key in both languages, with the same placeholders, translated", () => {
    const english = flatKeys(catalogues.en);
    const chinese = flatKeys(catalogues.zh);
    expect([...english.keys()].filter((k) => !chinese.has(k))).toEqual([]);
    expect([...chinese.keys()].filter((k) => !english.has(k))).toEqual([]);
    const differing = [...english].filter(
      ([key, message]) => placeholders(message).join() !== placeholders(chinese.get(key) ?? "").join(),
    );
    expect(differing.map(([key]) => key)).toEqual([]);
    // A Chinese message with letters in it is not the English one copied (names and symbols aside).
    const copied = [...flatKeys(en)].filter(
      ([key, message]) => chinese.get(key) === message && /[a-z]{2,}/i.test(message) && !SAME.test(key),
    );
    expect(copied.map(([key]) => key)).toEqual([]);
  });

  it("uses every key, and uses no key the catalogue lacks", () => {
    const use = keyUse(files);
    // The status badge's key is the run's status (t(status)): every status of the schema is one.
    for (const status of RUN_STATUSES) use.literals.add(status);
    const { unused, missing } = unusedAndMissing(en, use);
    expect(unused).toEqual([]);
    expect(missing.filter((key) => !key.startsWith("ui."))).toEqual([]);
  });
});
