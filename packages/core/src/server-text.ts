/**
 * A server message as a code and its parameters, so a page can say it in its own language while the
 * error's English `message` stays what the CLI, the API clients and the tests read. tRPC answers carry it
 * as `data.text` (trpc.ts's error formatter); the apps render it from their catalogues (`ui.ServerError.<code>`)
 * and fall back to the English message for a code they do not know. Data (a field path, a value, a dataset
 * name) goes in `params` as written.
 */
export interface ServerText {
  code: string;
  /** Values for the message's placeholders; a nested ServerText is said in the same language first. */
  params?: Record<string, string | number | ServerText>;
  /** Further lines under the message (an import's bad lines). */
  lines?: ServerText[];
  /** The English words, for a page whose catalogue lacks `code`. */
  fallback?: string;
}

/** Errors that know their ServerText. */
export interface WithServerText {
  text?: ServerText;
}

/** The ServerText of `error` or of the first error in its `cause` chain that has one. */
export function serverTextOf(error: unknown): ServerText | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === "object"; depth++) {
    const text = (current as WithServerText).text;
    if (text && typeof text === "object" && typeof text.code === "string") return text;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** `error` with `text` attached (a TRPCError, say), returned for `throw`. */
export function withServerText<E extends Error>(error: E, text: ServerText): E & WithServerText {
  return Object.assign(error, { text });
}

/**
 * What an import line was expected to be, from the importers' English words ("must not be empty",
 * "at most 9 responses per task"): a code with the numbers and details as parameters. Words without a
 * code here stay English (`fallback`).
 */
const EXPECTATIONS: [RegExp, string, string[]][] = [
  [/^must not be empty$/, "expectNotEmpty", []],
  [/^must be a string$/, "expectString", []],
  [/^must be a string or a list of messages$/, "expectTextOrMessages", []],
  [/^must be a string or \{"text", "source"\}$/, "expectResponse", []],
  [/^must be a list of (\d+) to (\d+) responses$/, "expectResponseList", ["min", "max"]],
  [/^needs at least (\d+) responses to compare$/, "expectAtLeastResponses", ["min"]],
  [/^at most (\d+) responses per task$/, "expectAtMostResponses", ["max"]],
  [/^must be groups of response indices$/, "expectGoldGroups", []],
  [/^must list each response index 0\.\.(\d+) exactly once$/, "expectGoldEach", ["last"]],
  [/^must be a JSON object$/, "expectObject", []],
  [/^must be system, user or assistant$/, "expectRole", []],
  [/^needs at least 2 messages: a prompt and the assistant's answer$/, "expectTwoMessages", []],
  [/^the last message must be the assistant's \(the response to learn\)$/, "expectLastAssistant", []],
  [/^not valid JSON \((.*)\)$/s, "expectJson", ["detail"]],
  [/^contains a NUL character.*cannot be stored$/, "expectNoNul", []],
  [/^the file is empty$/, "fileEmpty", []],
  [/^the file has no rows$/, "fileNoRows", []],
  [/^must be at least (\d+) characters$/, "expectMinChars", ["min"]],
  [/^(?:must be )?at most (\d+) characters.*$/, "expectMaxChars", ["max"]],
  [/^must be an email address$/, "expectEmail", []],
  [/^(.+) already has an account$/, "emailTaken", ["email"]],
  [/^the workbench already has an admin; sign in instead$/, "adminExists", []],
  [/^this invitation link is not valid \(used, expired or mistyped\)$/, "inviteInvalid", []],
  [/^the workbench needs at least one admin$/, "lastAdmin", []],
  // Launch refusals (queue/launch.ts, queue/refs.ts).
  [
    /^run:(\S+) matches no run(?: and no earlier step of this pipeline)? \(give a run id or name\) \(did you mean (\S+)\?\)$/,
    "noSuchRunSuggest",
    ["ref", "suggestion"],
  ],
  [
    /^run:(\S+) matches no run(?: and no earlier step of this pipeline)? \(give a run id or name\)$/,
    "noSuchRun",
    ["ref"],
  ],
  [/^run:(\S+) is this step or a later one; a step can only use earlier steps$/, "laterStep", ["ref"]],
  [/^input run (.+) (failed|cancelled); it cannot feed a new run$/, "inputRunUnusable", ["name", "status"]],
  [
    /^"(.+)" is a UUID, which is how runs are referred to by id; choose a name that is not one$/s,
    "nameIsUuid",
    ["name"],
  ],
  [/^two steps have the key "(.+)"; give each step its own key$/, "duplicateKey", ["key"]],
  [/^run name (.+)$/s, "runName", ["~problem"]],
  // Dataset imports in the dashboard (datasets/import.ts).
  [/^a \.txt file holds a text corpus; (\S+) files are JSONL$/, "txtIsCorpus", ["kind"]],
  [/^give a split or an eval fraction, not both$/, "splitOrFraction", []],
  // The rule, then what is wrong with the name as written (formats/index.ts, datasetNameProblem).
  [/^use 1 to 100 letters, digits and \. _ - : @ \(no spaces\)(?:; .+)?$/s, "datasetName", []],
  [
    /^"(.+)" holds (\S+), not (\S+); import into a new dataset name$/s,
    "datasetHoldsOther",
    ["name", "holds", "kind"],
  ],
  [
    /^"(.+)" holds (\S+); this file holds (prompts|comparison tasks)$/s,
    "datasetHoldsOtherFile",
    ["name", "holds", "file"],
  ],
  // Labeling answers (labeling/submit.ts).
  [/^order the responses, or skip, or mark them all bad$/, "rankingEmpty", []],
  [
    /^the file is ([\d.]+) MB; one import takes at most (\d+) MB: split it and import the parts into the same dataset \(they append\)$/,
    "fileTooLarge",
    ["size", "max"],
  ],
];

export function expectationText(message: string): ServerText {
  for (const [pattern, code, names] of EXPECTATIONS) {
    const match = pattern.exec(message);
    if (!match) continue;
    const params: Record<string, string | number | ServerText> = {};
    names.forEach((name, i) => {
      const value = match[i + 1]!;
      // "~name": words that are themselves an expectation ("run name must not be empty").
      if (name.startsWith("~")) params[name.slice(1)] = expectationText(value);
      else params[name] = /^\d+$/.test(value) ? Number(value) : value;
    });
    return { code, params, fallback: message };
  }
  return { code: "verbatim", params: { message }, fallback: message };
}

/** "field: what is wrong" (a refused form or request field) or a sentence, as a ServerText. */
export function messageText(message: string): ServerText {
  const match = /^([\w.]+): (.+)$/s.exec(message);
  if (match) {
    return {
      code: "fieldProblem",
      params: { field: match[1]!, problem: expectationText(match[2]!) },
      fallback: message,
    };
  }
  return expectationText(message);
}

/** A zod input refusal (tRPC's message is the issues as JSON): one "field: problem" line per issue. */
export function zodText(issues: readonly { path: PropertyKey[]; message: string }[]): ServerText {
  return {
    code: "invalidInput",
    lines: issues
      .slice(0, 20)
      .map((issue) => messageText(`${issue.path.map(String).join(".") || "input"}: ${issue.message}`)),
  };
}
