/**
 * docs/reference/cli.md, generated from the command tree of ./program so that it cannot drift from it
 * (`pnpm docs:cli` writes it; a test compares the committed page with this output).
 */
import type { Argument, Command, Option } from "commander";
import { buildProgram } from "./program";

/** A Markdown table cell: pipes escaped, line breaks flattened. */
const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");

/** `rlhf runs logs <run>`: the command's path from the root, with its arguments. */
function usage(path: string[], command: Command): string {
  const args = command.registeredArguments.map((argument: Argument) => {
    const name = `${argument.name()}${argument.variadic ? "..." : ""}`;
    return argument.required ? `<${name}>` : `[${name}]`;
  });
  return [...path, ...args].join(" ");
}

function optionRow(option: Option): string {
  const defaultValue =
    option.negate || option.defaultValue === undefined ? "" : `\`${JSON.stringify(option.defaultValue)}\``;
  const required = option.mandatory ? " (required)" : "";
  return `| \`${cell(option.flags)}\`${required} | ${defaultValue} | ${cell(option.description)} |`;
}

function renderCommand(lines: string[], path: string[], command: Command): void {
  const subcommands = command.commands.filter((sub) => !(sub as Command & { _hidden?: boolean })._hidden);
  const options = command.options.filter((option) => !option.hidden);
  if (path.length > 1) {
    lines.push(`${path.length === 2 ? "##" : "###"} \`${usage(path, command)}\``, "");
    if (command.description()) lines.push(cell(command.description()), "");
  }
  if (command.registeredArguments.length > 0) {
    lines.push("| argument | meaning |", "|---|---|");
    for (const argument of command.registeredArguments) {
      const name = `${argument.name()}${argument.variadic ? "..." : ""}`;
      lines.push(`| \`${argument.required ? `<${name}>` : `[${name}]`}\` | ${cell(argument.description)} |`);
    }
    lines.push("");
  }
  if (options.length > 0) {
    lines.push("| option | default | meaning |", "|---|---|---|");
    for (const option of options) lines.push(optionRow(option));
    lines.push("");
  }
  for (const sub of subcommands) renderCommand(lines, [...path, sub.name()], sub);
}

/** The whole page: every command, in the order `rlhf --help` lists them, with arguments and options. */
export function renderCliReference(): string {
  const program = buildProgram();
  const lines = [
    "# Command line: `rlhf`",
    "",
    "Generated from the command tree in `packages/trainer/src/cli/program.ts` by `pnpm docs:cli`; a test",
    "fails when this page and the commands disagree. Run it as `pnpm rlhf <command>` from the checkout.",
    "Every command reads `DATABASE_URL` (else the embedded database); `--help` after any command prints its",
    "options. The flags of `rlhf train <kind>` are the job config's fields: their defaults and bounds come from",
    "the schema, in [configs.md](configs.md), and apply to any field you do not set.",
    "",
    cell(program.description()),
    "",
  ];
  renderCommand(lines, [program.name()], program);
  return `${lines.join("\n").trimEnd()}\n`;
}
