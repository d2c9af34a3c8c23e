/**
 * Reading the session of a request, on the hot path of every tRPC call: the cookie better-auth set at
 * sign-in (`<token>.<HMAC-SHA256 of the token, base64>`), its signature checked, then one query for the
 * session and its user. better-auth's own `getSession` does the same in two queries and about 2 ms more
 * CPU per request (measured); signing in and out, and every /api/auth endpoint, stay with the library.
 *
 * An app server may keep what it looked up (`useSessionCache`): a session seen in the last
 * SESSION_CACHE_SECONDS is then answered from memory, without a query. It stays exact because every
 * change that ends or narrows a session says so on a PostgreSQL channel (`sessionsChanged`: a block, a
 * role change, a sign-out, any admin endpoint of better-auth) and each server listens on it, dropping the
 * user's entries at once; while its listening connection is down a server trusts no entry. better-auth's
 * own cookie cache (`session.cookieCache`) was not used: it keeps a blocked user's or a signed-out
 * session's data valid in the browser for its whole maxAge, and a block here ends access at once.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { sql } from "drizzle-orm";
import pg from "pg";
import type { Db } from "../db/open";
import type { UserRole } from "../db/schema";
import { sessionCookieName } from "./auth";
import { authSecret } from "./secret";

export interface SessionLookup {
  id: string;
  name: string;
  email: string;
  role: UserRole;
}

let processSecret: string | undefined;

/** How long a looked-up session is answered from memory (bounded by the session's own expiry). */
export const SESSION_CACHE_SECONDS = 60;
/** Entries kept at most; the oldest go first. */
const SESSION_CACHE_MAX = 50_000;
/** The channel on which session changes are announced (payload: a user id, or `*` for everyone). */
export const SESSIONS_CHANNEL = "rlhf_sessions";

interface CachedSession {
  user: SessionLookup;
  /** Epoch ms until which the entry is answered (the earlier of the cache's window and the session's end). */
  until: number;
}

/** One app server's sessions looked up recently, trusted only while it listens on SESSIONS_CHANNEL. */
class SessionCache {
  readonly entries = new Map<string, CachedSession>();
  listening = false;
  /**
   * Counts every forget and every change of listening: a lookup stores its answer only if none happened
   * while its query ran (else a block announced meanwhile could be overwritten by what was read before).
   */
  generation = 0;
  private client: pg.Client | undefined;
  private closed = false;

  constructor(private readonly pool: pg.Pool) {
    this.listen();
  }

  get(token: string): SessionLookup | undefined {
    if (!this.listening) return undefined;
    const hit = this.entries.get(token);
    if (!hit) return undefined;
    if (hit.until > Date.now()) return hit.user;
    this.entries.delete(token);
    return undefined;
  }

  set(token: string, user: SessionLookup, sessionEnds: number, generation: number): void {
    if (!this.listening || generation !== this.generation) return;
    this.entries.delete(token);
    this.entries.set(token, {
      user,
      until: Math.min(sessionEnds, Date.now() + SESSION_CACHE_SECONDS * 1000),
    });
    if (this.entries.size > SESSION_CACHE_MAX) this.entries.delete(this.entries.keys().next().value!);
  }

  forget(userId: string): void {
    this.generation++;
    if (userId === "*") this.entries.clear();
    else for (const [token, entry] of this.entries) if (entry.user.id === userId) this.entries.delete(token);
  }

  /** A connection of its own (not one of the pool's) that LISTENs; on any failure, distrust and retry. */
  private listen(): void {
    if (this.closed) return;
    const client = new pg.Client(this.pool.options);
    this.client = client;
    const lost = () => {
      if (this.client !== client) return;
      this.listening = false;
      this.generation++;
      this.entries.clear();
      this.client = undefined;
      client.end().catch(() => {});
      setTimeout(() => this.listen(), 2000).unref();
    };
    client.on("error", lost);
    client.on("end", lost);
    client.on("notification", (message) => this.forget(message.payload ?? "*"));
    client
      .connect()
      .then(() => {
        // The listening socket must not keep a process alive that has nothing else to do.
        (client as unknown as { connection: { stream: { unref(): void } } }).connection.stream.unref();
        return client.query(`listen ${SESSIONS_CHANNEL}`);
      })
      .then(() => {
        if (this.client !== client) return;
        this.listening = true;
        this.generation++;
      }, lost);
  }

  close(): void {
    this.closed = true;
    this.listening = false;
    this.entries.clear();
    const client = this.client;
    this.client = undefined;
    client?.end().catch(() => {});
  }
}

// Process-wide (on globalThis): Next.js bundles this module into more than one chunk of an app (its route
// handlers, and the labeler's instrumentation that answers /api/trpc before the router), and a block done
// through one copy must empty the cache the others answer from at once, not when the announcement arrives.
const processWide = globalThis as typeof globalThis & { __rlhfSessionCaches?: WeakMap<object, SessionCache> };
processWide.__rlhfSessionCaches ??= new WeakMap();
const caches = processWide.__rlhfSessionCaches;

function poolOf(db: Db): pg.Pool {
  return (db as unknown as { $client: pg.Pool }).$client;
}

/**
 * Keep looked-up sessions of `db` in memory (see the module comment). App servers call it once; until its
 * listening connection is up, every request still asks the database. Returns a function that stops it.
 */
export function useSessionCache(db: Db): () => void {
  const pool = poolOf(db);
  let cache = caches.get(pool);
  if (!cache) {
    cache = new SessionCache(pool);
    caches.set(pool, cache);
  }
  const own = cache;
  return () => {
    own.close();
    if (caches.get(pool) === own) caches.delete(pool);
  };
}

/** Whether `db`'s session cache is answering (its listening connection is up). For tests and benchmarks. */
export function sessionCacheListening(db: Db): boolean {
  return caches.get(poolOf(db))?.listening ?? false;
}

/**
 * Announce that a user's sessions ended or narrowed (blocked, role changed, signed out), or everyone's
 * (`"*"`): every app server drops what it kept of them; this process does so before returning. Call it
 * after the change is committed.
 */
export async function sessionsChanged(db: Db, userId: string | "*"): Promise<void> {
  caches.get(poolOf(db))?.forget(userId);
  await db.execute(sql`select pg_notify(${SESSIONS_CHANNEL}, ${userId})`);
}

/** The value of cookie `name` in a Cookie header, if present. */
export function readCookie(header: string, name: string): string | undefined {
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** better-auth's cookie signature (`makeSignature`): HMAC-SHA256 of the value, standard base64. */
export function cookieSignature(value: string, secret: string): string {
  return createHmac("sha256", secret).update(value).digest("base64");
}

/**
 * The signed-in user of a request, or null: no cookie, a bad signature, an unknown or expired session,
 * or a blocked user. `secret` defaults to the process's (BETTER_AUTH_SECRET or the generated one).
 */
export async function sessionUser(
  db: Db,
  headers: Headers,
  options: { secret?: string } = {},
): Promise<SessionLookup | null> {
  const header = headers.get("cookie");
  if (!header) return null;
  const raw = readCookie(header, sessionCookieName());
  if (!raw) return null;
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return null;
  }
  const dot = value.lastIndexOf(".");
  if (dot <= 0) return null;
  const token = value.slice(0, dot);
  const given = Buffer.from(value.slice(dot + 1));
  processSecret ??= authSecret();
  const secret = options.secret ?? processSecret;
  const expected = Buffer.from(cookieSignature(token, secret));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const cache = caches.get(poolOf(db));
  const known = cache?.get(token);
  if (known) return known;
  const generation = cache?.generation ?? 0;
  const { rows } = await db.execute<{
    id: string;
    name: string;
    email: string;
    role: string;
    banned: boolean;
    expires_at: Date;
  }>(sql`
    select u.id, u.name, u.email, u.role, u.banned, s.expires_at
    from sessions s join users u on u.id = s.user_id
    where s.token = ${token} and s.expires_at > now()`);
  const row = rows[0];
  if (!row || row.banned) return null;
  const user: SessionLookup = {
    id: row.id,
    name: row.name,
    email: row.email,
    role: row.role === "admin" ? "admin" : "annotator",
  };
  cache?.set(token, user, new Date(row.expires_at).getTime(), generation);
  return user;
}
