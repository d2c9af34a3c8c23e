/**
 * People: accounts created by the CLI, the first-start page or an admin's invitation. Passwords are
 * hashed with better-auth's own hasher (scrypt), so the library's sign-in verifies them; the
 * `accounts` row is the one its email/password provider ("credential") reads.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { hashPassword, makeSignature } from "better-auth/crypto";
import { and, asc, eq, gt, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/open";
import { accounts, sessions, USER_ROLES, type UserRole, users, verifications } from "../db/schema";
import { messageText, type ServerText } from "../server-text";
import { MIN_PASSWORD_LENGTH, sessionCookieName } from "./auth";
import { sessionsChanged } from "./session";

export const emailSchema = z
  .string()
  .trim()
  .max(254, "at most 254 characters (the longest an email address can be)")
  .pipe(z.email("must be an email address"))
  .transform((e) => e.toLowerCase());
export const passwordSchema = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
  .max(256, "must be at most 256 characters");
export const nameSchema = z.string().trim().min(1, "must not be empty").max(100, "at most 100 characters");
export const roleSchema = z.enum(USER_ROLES);

export const newUserSchema = z.object({
  email: emailSchema,
  name: nameSchema,
  password: passwordSchema,
  role: roleSchema.default("annotator"),
});
export type NewUser = z.input<typeof newUserSchema>;

export interface UserSummary {
  id: string;
  email: string;
  name: string;
  role: UserRole;
}

/** A problem a person can fix (taken email, weak password...): the message says what and why. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "UserError";
    this.text = messageText(message);
  }
  /** The message as codes, for a page in another language (server-text.ts). */
  readonly text: ServerText;
}

function parseNewUser(input: NewUser) {
  const parsed = newUserSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? "");
    throw new UserError(`${field}: ${issue.message}`, field);
  }
  return parsed.data;
}

/** Insert a user and their password account in the caller's transaction. */
async function insertUser(tx: Db, user: z.infer<typeof newUserSchema>): Promise<UserSummary> {
  const [taken] = await tx.select({ id: users.id }).from(users).where(eq(users.email, user.email));
  if (taken) throw new UserError(`email: ${user.email} already has an account`, "email");
  const id = randomUUID();
  const now = new Date();
  await tx.insert(users).values({
    id,
    email: user.email,
    name: user.name,
    role: user.role,
    emailVerified: false,
    createdAt: now,
    updatedAt: now,
  });
  await tx.insert(accounts).values({
    id: randomUUID(),
    accountId: id,
    providerId: "credential",
    userId: id,
    password: await hashPassword(user.password),
    createdAt: now,
    updatedAt: now,
  });
  return { id, email: user.email, name: user.name, role: user.role };
}

/** Create an account that can sign in with email and password (the CLI's and the tests' way in). */
export async function createUser(db: Db, input: NewUser): Promise<UserSummary> {
  const user = parseNewUser(input);
  return db.transaction((tx) => insertUser(tx as unknown as Db, user));
}

export async function countAdmins(db: Db): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(users)
    .where(and(eq(users.role, "admin"), eq(users.banned, false)));
  return row?.n ?? 0;
}

/**
 * The first admin, from the first-start page: refused once any admin exists, so the page cannot be used
 * to take over a workbench that is set up. Two people submitting at once get one admin between them.
 */
export async function createFirstAdmin(db: Db, input: Omit<NewUser, "role">): Promise<UserSummary> {
  const user = parseNewUser({ ...input, role: "admin" });
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(7470003)`);
    const [existing] = await tx.select({ id: users.id }).from(users).where(eq(users.role, "admin")).limit(1);
    if (existing) throw new UserError("the workbench already has an admin; sign in instead");
    return insertUser(tx as unknown as Db, user);
  });
}

// ---------------------------------------------------------------------------------------------------
// Invitations: an admin creates a link; whoever opens it sets their name and password. Kept in the
// `verifications` table (better-auth's table for one-time tokens); only a hash of the token is stored.
// ---------------------------------------------------------------------------------------------------

const INVITE_PREFIX = "invite:";
export const INVITE_DAYS = 7;

const inviteValueSchema = z.object({ email: z.string(), role: roleSchema, invitedBy: z.string() });

function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

export interface Invitation {
  email: string;
  role: UserRole;
  expiresAt: Date;
}

/** An invitation for `email` with `role`; returns the token for the link (shown once, stored hashed). */
export async function createInvite(
  db: Db,
  input: { email: string; role?: UserRole; invitedBy: string },
): Promise<{ token: string; expiresAt: Date }> {
  const email = emailSchema.safeParse(input.email);
  if (!email.success) throw new UserError(`email: ${email.error.issues[0]!.message}`, "email");
  const [taken] = await db.select({ id: users.id }).from(users).where(eq(users.email, email.data));
  if (taken) throw new UserError(`email: ${email.data} already has an account`, "email");
  const token = randomBytes(24).toString("base64url");
  const expiresAt = new Date(Date.now() + INVITE_DAYS * 86_400_000);
  await db.insert(verifications).values({
    id: randomUUID(),
    identifier: `${INVITE_PREFIX}${tokenHash(token)}`,
    value: JSON.stringify({ email: email.data, role: input.role ?? "annotator", invitedBy: input.invitedBy }),
    expiresAt,
  });
  return { token, expiresAt };
}

/** The invitation behind a token, if it is valid and unused. */
export async function findInvite(db: Db, token: string): Promise<Invitation | null> {
  const [row] = await db
    .select()
    .from(verifications)
    .where(
      and(
        eq(verifications.identifier, `${INVITE_PREFIX}${tokenHash(token)}`),
        gt(verifications.expiresAt, new Date()),
      ),
    );
  if (!row) return null;
  const value = inviteValueSchema.parse(JSON.parse(row.value));
  return { email: value.email, role: value.role, expiresAt: row.expiresAt };
}

/** Use an invitation: creates the account and spends the token, in one transaction. */
export async function acceptInvite(
  db: Db,
  input: { token: string; name: string; password: string },
): Promise<UserSummary> {
  return db.transaction(async (tx) => {
    const identifier = `${INVITE_PREFIX}${tokenHash(input.token)}`;
    const [row] = await tx
      .delete(verifications)
      .where(and(eq(verifications.identifier, identifier), gt(verifications.expiresAt, new Date())))
      .returning();
    if (!row) throw new UserError("this invitation link is not valid (used, expired or mistyped)");
    const value = inviteValueSchema.parse(JSON.parse(row.value));
    const user = parseNewUser({
      email: value.email,
      name: input.name,
      password: input.password,
      role: value.role,
    });
    return insertUser(tx as unknown as Db, user);
  });
}

/** Pending invitations, oldest first. */
export async function listInvites(db: Db): Promise<(Invitation & { id: string })[]> {
  const rows = await db
    .select()
    .from(verifications)
    .where(
      and(
        sql`${verifications.identifier} like ${`${INVITE_PREFIX}%`}`,
        gt(verifications.expiresAt, new Date()),
      ),
    )
    .orderBy(asc(verifications.createdAt));
  return rows.map((row) => {
    const value = inviteValueSchema.parse(JSON.parse(row.value));
    return { id: row.id, email: value.email, role: value.role, expiresAt: row.expiresAt };
  });
}

export async function revokeInvite(db: Db, id: string): Promise<void> {
  await db
    .delete(verifications)
    .where(and(eq(verifications.id, id), sql`${verifications.identifier} like ${`${INVITE_PREFIX}%`}`));
}

// ---------------------------------------------------------------------------------------------------
// Managing accounts
// ---------------------------------------------------------------------------------------------------

export async function listUsers(db: Db) {
  return db
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      role: users.role,
      banned: users.banned,
      createdAt: users.createdAt,
      rankings: sql<number>`(select count(*)::int from rankings r where r.annotator_id = "users"."id")`,
    })
    .from(users)
    .orderBy(asc(users.createdAt), asc(users.email));
}

/**
 * Change a user's role or block them. The last active admin cannot be demoted or blocked (nobody could
 * administer the workbench afterwards). Blocking ends the user's sessions at once.
 */
export async function updateUser(
  db: Db,
  id: string,
  change: { role?: UserRole; banned?: boolean },
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(7470003)`);
    const [user] = await tx.select().from(users).where(eq(users.id, id));
    if (!user) throw new UserError(`no user with id ${id}`);
    const losesAdmin =
      user.role === "admin" && !user.banned && (change.role === "annotator" || change.banned === true);
    if (losesAdmin) {
      const [row] = await tx
        .select({ n: sql<number>`count(*)::int` })
        .from(users)
        .where(and(eq(users.role, "admin"), eq(users.banned, false)));
      if ((row?.n ?? 0) <= 1) throw new UserError("the workbench needs at least one admin");
    }
    await tx
      .update(users)
      .set({ ...change, updatedAt: new Date() })
      .where(eq(users.id, id));
    if (change.banned) await tx.delete(sessions).where(eq(sessions.userId, id));
  });
  // App servers that keep sessions in memory drop this user's now (./session.ts).
  if (change.banned !== undefined || change.role !== undefined) await sessionsChanged(db, id);
}

/**
 * A session for a user and the Cookie header that carries it, made as better-auth makes them (a session
 * row, and its token signed with the secret): for load tests and scripts that act as many users without
 * signing each one in. The server must use the same secret.
 */
export async function issueSessionCookie(
  db: Db,
  userId: string,
  options: { secret: string; days?: number },
): Promise<string> {
  const token = randomBytes(24).toString("base64url");
  await db.insert(sessions).values({
    id: randomUUID(),
    token,
    userId,
    expiresAt: new Date(Date.now() + (options.days ?? 1) * 86_400_000),
  });
  return `${sessionCookieName()}=${encodeURIComponent(`${token}.${await makeSignature(token, options.secret)}`)}`;
}
