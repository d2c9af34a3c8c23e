/**
 * Authentication with better-auth over the workbench's own tables: email + password (hashed by the
 * library), sessions in httpOnly cookies, and its admin plugin for the two roles. Self sign-up is off:
 * an admin invites people (see ./users.ts), and the first admin comes from `rlhf users create-admin` or
 * the labeler's first-start page.
 */
import { betterAuth } from "better-auth";
import { drizzleAdapter } from "better-auth/adapters/drizzle";
import { APIError } from "better-auth/api";
import { admin } from "better-auth/plugins/admin";
import { adminAc, userAc } from "better-auth/plugins/admin/access";
import type { Db } from "../db/open";
import { accounts, sessions, users, verifications } from "../db/schema";
import { coreEnv } from "../env";
import { isLocale, LOCALES } from "../locales";
import { nulMessage, nulPath } from "../nul";
import { CLIENT_CHAIN_HEADER, clientAddressKnown, trustedProxies } from "./client-address";
import { authSecret } from "./secret";

/** Shortest password accepted (NIST SP 800-63B's minimum for a chosen secret). */
export const MIN_PASSWORD_LENGTH = 8;

export interface AuthOptions {
  /** Key that signs cookies; default `authSecret()` (BETTER_AUTH_SECRET or the generated one). */
  secret?: string;
  /** The app's public URL, when it is fixed (default BETTER_AUTH_URL); unset, each request's own origin. */
  baseURL?: string;
  /** Session lifetime in seconds (default 7 days, renewed daily while in use). */
  sessionSeconds?: number;
}

/** Whether session cookies are Secure: when the public URL (option, or BETTER_AUTH_URL) is https. */
export function secureCookies(baseURL: string | undefined = coreEnv().BETTER_AUTH_URL): boolean {
  return baseURL?.startsWith("https://") ?? false;
}

/** The session cookie's name (better-auth prefixes Secure cookies with `__Secure-`). */
export function sessionCookieName(secure: boolean = secureCookies()): string {
  return `${secure ? "__Secure-" : ""}rlhf.session_token`;
}

function buildAuth(db: Db, options: AuthOptions = {}) {
  return betterAuth({
    appName: "RLHF Workbench",
    secret: options.secret ?? authSecret(),
    baseURL: options.baseURL,
    // The app is reached at whatever host it is served on (a laptop's localhost, a LAN address, a proxy's
    // name): trust the request's own host. Cross-site requests are refused before they get here
    // (./handlers.ts), so this only tells the library that same-site requests are fine.
    trustedOrigins: async (request?: Request) => {
      const host = request?.headers.get("x-forwarded-host") ?? request?.headers.get("host");
      return host ? [`http://${host}`, `https://${host}`] : [];
    },
    database: drizzleAdapter(db, {
      provider: "pg",
      schema: { user: users, session: sessions, account: accounts, verification: verifications },
    }),
    emailAndPassword: {
      enabled: true,
      disableSignUp: true,
      minPasswordLength: MIN_PASSWORD_LENGTH,
      maxPasswordLength: 256,
    },
    session: {
      expiresIn: options.sessionSeconds ?? 7 * 24 * 3600,
      updateAge: 24 * 3600,
    },
    // The language a person chose (../locales.ts): written by the apps' language picker through
    // update-user, returned on sign-in so the app can set its cookie.
    user: {
      additionalFields: { locale: { type: "string", required: false, input: true, returned: true } },
    },
    databaseHooks: {
      user: {
        create: { before: (user) => checkUserFields(user) },
        update: { before: (user) => checkUserFields(user) },
      },
    },
    plugins: [
      admin({
        defaultRole: "annotator",
        adminRoles: ["admin"],
        roles: { admin: adminAc, annotator: userAc },
      }),
    ],
    advanced: {
      // Rate limits key on the client's address: the TCP peer (./client-address.cjs), or the first hop
      // before the configured proxies. Never a forwarded header a client could write itself.
      ipAddress: {
        ipAddressHeaders: [clientAddressKnown() ? CLIENT_CHAIN_HEADER : "x-rlhf-no-known-address"],
        trustedProxies: trustedProxies(),
      },
      defaultCookieAttributes: { httpOnly: true, sameSite: "lax" },
      cookiePrefix: "rlhf",
      // Secure cookies only where the workbench is served over https (its public URL says so): browsers
      // drop Secure cookies sent over plain http to anything but localhost, which would make signing in
      // impossible on a LAN address.
      useSecureCookies: secureCookies(options.baseURL),
    },
    telemetry: { enabled: false },
    logger: { disabled: coreEnv().RLHF_QUIET },
  });
}

/**
 * The app's rules for a user's fields, whichever endpoint writes them (better-auth's own update-user and
 * the admin plugin's endpoints included, which bypass the app's forms): a name of 1–100 characters, an
 * email of at most 254, a short image URL, a locale the apps speak (../locales.ts), and no NUL anywhere.
 * Returns the fields to store.
 */
async function checkUserFields<T extends Record<string, unknown>>(user: T): Promise<{ data: T }> {
  const { nameSchema, emailSchema } = await import("./users");
  const nul = nulPath(user);
  if (nul !== undefined) throw new APIError("BAD_REQUEST", { message: nulMessage(nul) });
  const fields: Record<string, unknown> = { ...user };
  if (user.name !== undefined) {
    const name = nameSchema.safeParse(user.name);
    if (!name.success)
      throw new APIError("BAD_REQUEST", { message: `name: ${name.error.issues[0]!.message}` });
    fields.name = name.data;
  }
  if (user.email !== undefined) {
    const email = emailSchema.safeParse(user.email);
    if (!email.success)
      throw new APIError("BAD_REQUEST", { message: `email: ${email.error.issues[0]!.message}` });
  }
  if (user.locale !== undefined && user.locale !== null && !isLocale(user.locale)) {
    throw new APIError("BAD_REQUEST", { message: `locale: one of ${LOCALES.join(", ")}` });
  }
  if (typeof user.image === "string" && user.image.length > 2048) {
    throw new APIError("BAD_REQUEST", { message: "image: at most 2048 characters" });
  }
  return { data: fields as T };
}

export type Auth = ReturnType<typeof buildAuth>;

// One instance per connection pool: both apps ask for it on every request.
const instances = new WeakMap<object, Auth>();

/** The better-auth instance over `db` (cached per database unless options are given). */
export function createAuth(db: Db, options?: AuthOptions): Auth {
  if (options) return buildAuth(db, options);
  let auth = instances.get(db);
  if (!auth) {
    auth = buildAuth(db);
    instances.set(db, auth);
  }
  return auth;
}
