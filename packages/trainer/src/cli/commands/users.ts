/** People: the first admin (never a default password), more accounts, invitation links. */
import type { Command } from "commander";

export function addUserCommands(program: Command): void {
  const usersCommand = program.command("users").description("labeler and dashboard accounts");
  for (const role of ["admin", "annotator"] as const) {
    usersCommand
      .command(role === "admin" ? "create-admin" : "create")
      .description(
        role === "admin"
          ? "create an admin (the first one, say): the password is asked for, or read with --password-stdin"
          : "create an annotator account (or send an invitation link: users invite)",
      )
      .requiredOption("--email <email>", "their email, used to sign in")
      .option("--name <name>", "display name (default: the email's local part)")
      .option("--password-stdin", "read the password from standard input")
      .option("--json", "print the user as JSON")
      .action(async (options) => {
        const { createUserCommand } = await import("../users");
        await createUserCommand(role, options);
      });
  }
  usersCommand
    .command("list")
    .option("--json", "print JSON")
    .action(async (options) => {
      const { listUsersCommand } = await import("../users");
      await listUsersCommand(options);
    });
  usersCommand
    .command("invite")
    .description("print an invitation link (valid 7 days) with which someone sets their name and password")
    .requiredOption("--email <email>", "who is invited")
    .option("--role <role>", "annotator | admin", "annotator")
    .option(
      "--url <url>",
      "the labeler's address (default: the one pnpm start printed, else http://localhost:3001)",
    )
    .action(async (options) => {
      const { inviteCommand } = await import("../users");
      await inviteCommand(options);
    });
}
