/**
 * Who may do what: better-auth over the workbench's tables (./auth.ts), the key that signs its cookies
 * (./secret.ts), and accounts, invitations and roles (./users.ts). Server-only (it hashes passwords).
 */
export {
  type Auth,
  type AuthOptions,
  createAuth,
  MIN_PASSWORD_LENGTH,
  secureCookies,
  sessionCookieName,
} from "./auth";
export { CLIENT_CHAIN_HEADER, clientAddressKnown, trustedProxies } from "./client-address";
export { AUTH_MAX_BODY_BYTES, authRequestHandler, authRouteHandlers } from "./handlers";
export { SIGN_IN_FAILURES, SIGN_IN_WINDOW_SECONDS, SignInLimiter } from "./limits";
export { isSameOrigin } from "./origin";
export { authSecret, authSecretPath } from "./secret";
export {
  cookieSignature,
  readCookie,
  SESSION_CACHE_SECONDS,
  type SessionLookup,
  sessionCacheListening,
  sessionsChanged,
  sessionUser,
  useSessionCache,
} from "./session";
export {
  acceptInvite,
  countAdmins,
  createFirstAdmin,
  createInvite,
  createUser,
  emailSchema,
  findInvite,
  INVITE_DAYS,
  type Invitation,
  issueSessionCookie,
  listInvites,
  listUsers,
  type NewUser,
  nameSchema,
  newUserSchema,
  passwordSchema,
  revokeInvite,
  roleSchema,
  UserError,
  type UserSummary,
  updateUser,
} from "./users";
