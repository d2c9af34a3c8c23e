/**
 * The apps' formatting of times, durations and numbers per language. The functions live in
 * `@rlhf/core/format` (the CLI writes its tables with them too); components use `useFormat()`
 * (./i18n/use-format.ts), bound to the page's language.
 */
export * from "@rlhf/core/format";
