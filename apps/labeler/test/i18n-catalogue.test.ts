/**
 * The labeler speaks English and Simplified Chinese: every visible string of its components (and of the
 * shared ones in @rlhf/ui) comes from the catalogue, both catalogues have the same keys with the same
 * placeholders, and no key is left unused. Fails naming the file and line, or the key.
 */
import { fileURLToPath } from "node:url";
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
// The app's pages and components (not its API routes, whose errors are the server's), and the shared ones.
const files = sourceFiles([at("../src/app"), at("../../../packages/ui/src")]).filter(
  (file) => !file.includes("/src/app/api/") && !file.endsWith("catalogue-check.ts"),
);
const catalogues: Record<"en" | "zh", Catalogue> = {
  en: { ...uiMessages.en, ...en },
  zh: { ...uiMessages.zh, ...zh },
};

/** Messages that are names, the same in every language. */
const NAMES = new Set(["Layout.brand"]);

describe("the labeler's catalogues", () => {
  it("finds the components to check", () => {
    expect(files.length).toBeGreaterThan(30);
    expect(files.some((f) => f.endsWith("annotator.tsx"))).toBe(true);
  });

  it("writes no visible string outside the catalogue", () => {
    const findings = untranslatedLiterals(files).map(
      (f) => `${f.file.replace(/^.*?(apps|packages)\//, "$1/")}:${f.line} ${JSON.stringify(f.text)}`,
    );
    expect(findings).toEqual([]);
  });

  it("has every key in both languages, with the same placeholders", () => {
    const english = flatKeys(catalogues.en);
    const chinese = flatKeys(catalogues.zh);
    expect([...english.keys()].filter((k) => !chinese.has(k))).toEqual([]);
    expect([...chinese.keys()].filter((k) => !english.has(k))).toEqual([]);
    const differing = [...english].filter(
      ([key, message]) => placeholders(message).join() !== placeholders(chinese.get(key) ?? "").join(),
    );
    expect(differing.map(([key]) => key)).toEqual([]);
    // Translated: a Chinese message is not the English one copied (the product's name aside).
    const copied = [...english].filter(
      ([key, message]) =>
        chinese.get(key) === message && /[a-z]{3,} [a-z]{3,}/i.test(message) && !NAMES.has(key),
    );
    expect(copied.map(([key]) => key)).toEqual([]);
  });

  it("uses every key, and uses no key the catalogue lacks", () => {
    const { unused, missing } = unusedAndMissing(catalogues.en, keyUse(files));
    expect(unused).toEqual([]);
    expect(missing).toEqual([]);
  });

  it("catches a string written into a component, and a key nobody uses", () => {
    // The checks themselves can fail: run them on a component written the wrong way.
    const bad = at("../test/fixtures/untranslated-tsx.txt");
    const texts = untranslatedLiterals([bad]).map((f) => f.text);
    expect(texts).toEqual(["Nothing left for you.", "Submit", "Close the dialog", "Saved", "Not saved"]);
    const { unused, missing } = unusedAndMissing(
      { Fixture: { used: "x", spare: "y", kinds: { a: "A" } } },
      keyUse([bad]),
    );
    expect(unused).toEqual(["Fixture.spare"]);
    expect(missing).toEqual(["Fixture.absent"]);
    // Placeholders are read through plural and select branches, not mistaken for their words.
    expect(
      placeholders("Imported {count} {kind, select, prompts {prompts} other {tasks}} into <b>{name}</b>"),
    ).toEqual(["<b>", "{count}", "{kind}", "{name}"]);
    expect(placeholders("{count, plural, one {# task in {dataset}} other {# tasks}}")).toEqual([
      "{count}",
      "{dataset}",
    ]);
  });
});
