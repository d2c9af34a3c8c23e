/**
 * `rlhf users`: the first admin (never with a default password), more accounts, and invitation links.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { createInvite, createUser, listUsers, UserError } from "@rlhf/core/auth";
import { openDatabase, workbenchHome } from "@rlhf/core/db";
import { coreEnv } from "@rlhf/core/env";
import type { UserRole } from "@rlhf/core/schema";

/** All of standard input (a password piped in: `echo "$PW" | rlhf users create-admin --password-stdin`). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

/** Ask on the terminal without echoing what is typed. */
function askHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const output = rl as unknown as { _writeToOutput: (s: string) => void };
    process.stderr.write(question);
    output._writeToOutput = () => {};
    rl.question("", (answer) => {
      rl.close();
      process.stderr.write("\n");
      resolve(answer);
    });
  });
}

async function obtainPassword(options: { passwordStdin?: boolean }): Promise<string> {
  if (options.passwordStdin) return readStdin();
  const given = coreEnv().RLHF_ADMIN_PASSWORD;
  if (given) return given;
  if (!process.stdin.isTTY) {
    throw new Error("no password: pipe one in with --password-stdin, or set RLHF_ADMIN_PASSWORD");
  }
  const first = await askHidden("Password (8 characters or more): ");
  const again = await askHidden("Password again: ");
  if (first !== again) throw new Error("the two passwords differ; nothing was created");
  return first;
}

export async function createUserCommand(
  role: UserRole,
  options: { email: string; name?: string; passwordStdin?: boolean; json?: boolean },
): Promise<void> {
  const password = await obtainPassword(options);
  const database = await openDatabase();
  try {
    const user = await createUser(database.db, {
      email: options.email,
      name: options.name ?? options.email.split("@")[0]!,
      password,
      role,
    });
    if (options.json) process.stdout.write(`${JSON.stringify(user)}\n`);
    else
      process.stdout.write(`created ${user.role} ${user.email}; sign in to the labeler or the dashboard\n`);
  } catch (error) {
    if (error instanceof UserError) throw new Error(error.message);
    throw error;
  } finally {
    await database.close();
  }
}

export async function listUsersCommand(options: { json?: boolean }): Promise<void> {
  const database = await openDatabase();
  try {
    const rows = await listUsers(database.db);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return;
    }
    process.stdout.write(`${"EMAIL".padEnd(32)} ${"NAME".padEnd(20)} ${"ROLE".padEnd(10)} RANKINGS\n`);
    for (const u of rows) {
      process.stdout.write(
        `${u.email.padEnd(32)} ${u.name.slice(0, 20).padEnd(20)} ${(u.banned ? "blocked" : u.role).padEnd(10)} ${u.rankings}\n`,
      );
    }
  } finally {
    await database.close();
  }
}

/** Where `rlhf start` notes the labeler's address, so an invitation links to the port it really runs on. */
export const LABELER_URL_FILE = "labeler-url";

/** The labeler's address: --url, else what the running (or last) `rlhf start` noted, else the default port. */
function labelerUrl(url: string | undefined): string {
  if (url) return url;
  const noted = path.join(workbenchHome(), LABELER_URL_FILE);
  return existsSync(noted) ? readFileSync(noted, "utf8").trim() : "http://localhost:3001";
}

export async function inviteCommand(options: { email: string; role: UserRole; url?: string }): Promise<void> {
  const url = labelerUrl(options.url);
  const database = await openDatabase();
  try {
    const { token, expiresAt } = await createInvite(database.db, {
      email: options.email,
      role: options.role,
      invitedBy: "cli",
    });
    process.stdout.write(
      `${url.replace(/\/$/, "")}/invite/${token}\n(valid until ${expiresAt.toISOString()}; send it to ${options.email})\n`,
    );
  } catch (error) {
    if (error instanceof UserError) throw new Error(error.message);
    throw error;
  } finally {
    await database.close();
  }
}
