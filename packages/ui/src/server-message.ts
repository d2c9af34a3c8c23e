import { useTranslations } from "next-intl";

/** A server message as a code and parameters (tRPC's `data.text`; @rlhf/core's server-text.ts). */
export interface ServerText {
  code: string;
  params?: Record<string, string | number | ServerText>;
  lines?: ServerText[];
  fallback?: string;
}

/** An error as the apps' tRPC client hands it over: the English message and, maybe, its codes. */
export interface ServerErrorLike {
  message: string;
  data?: { text?: ServerText | null } | null;
}

/**
 * The codes the catalogue has under `ui.ServerError` (any other code is said with the server's English
 * words). Written here so the catalogue test sees every key used.
 */
export const SERVER_TEXT_CODES = [
  "importFailed",
  "importLine",
  "importMore",
  "invalidInput",
  "fieldProblem",
  "verbatim",
  "databaseUnreachable",
  "expectNotEmpty",
  "expectString",
  "expectTextOrMessages",
  "expectResponse",
  "expectResponseList",
  "expectAtLeastResponses",
  "expectAtMostResponses",
  "expectGoldGroups",
  "expectGoldEach",
  "expectObject",
  "expectRole",
  "expectTwoMessages",
  "expectLastAssistant",
  "expectJson",
  "expectNoNul",
  "fileEmpty",
  "fileNoRows",
  "expectMinChars",
  "expectMaxChars",
  "expectEmail",
  "emailTaken",
  "adminExists",
  "inviteInvalid",
  "lastAdmin",
  "noSuchRun",
  "noSuchRunSuggest",
  "laterStep",
  "inputRunUnusable",
  "nameIsUuid",
  "duplicateKey",
  "runName",
  "txtIsCorpus",
  "splitOrFraction",
  "datasetName",
  "datasetHoldsOther",
  "datasetHoldsOtherFile",
  "rankingEmpty",
  "fileTooLarge",
] as const;
const KNOWN = new Set<string>(SERVER_TEXT_CODES);

export interface ServerMessage {
  /** The message in the page's language, its lines after it. */
  text: string;
  /** Only the lines (an import's bad lines), or the message itself when it has none. */
  lines: string[];
}

/** Say one ServerText in the page's language; undefined when a code in it is unknown. */
export function useServerText(): (text: ServerText) => string | undefined {
  const t = useTranslations("ui.ServerError");
  const say = (text: ServerText): string | undefined => {
    if (!KNOWN.has(text.code)) return text.fallback;
    const params: Record<string, string | number> = {};
    for (const [name, value] of Object.entries(text.params ?? {})) {
      if (typeof value !== "object") params[name] = value;
      else {
        const said = say(value);
        if (said === undefined) return text.fallback;
        params[name] = said;
      }
    }
    return t(text.code as never, params as never);
  };
  return say;
}

/**
 * Say a server error in the page's language: its code from the catalogue, with its data (a field path, a
 * value, a dataset name) as written; the server's English message when the code is unknown or absent.
 */
export function useServerMessage(): (error: ServerErrorLike) => ServerMessage {
  const say = useServerText();
  return (error) => {
    const text = error.data?.text;
    const head = text ? say(text) : undefined;
    if (!text || head === undefined) return { text: error.message, lines: [error.message] };
    const lines = (text.lines ?? []).map((line) => say(line) ?? line.fallback ?? "");
    if (lines.some((line) => line === "")) return { text: error.message, lines: [error.message] };
    return { text: [head, ...lines].join(" "), lines: lines.length > 0 ? lines : [head] };
  };
}
