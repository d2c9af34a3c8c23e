import { mkdtempSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeSignature } from "better-auth/crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  acceptInvite,
  authRequestHandler,
  authSecret,
  cookieSignature,
  createAuth,
  createFirstAdmin,
  createInvite,
  createUser,
  findInvite,
  isSameOrigin,
  issueSessionCookie,
  sessionCacheListening,
  sessionsChanged,
  sessionUser,
  updateUser,
  useSessionCache,
} from "../src/auth";
import { openDatabase } from "../src/db/open";
import { accounts, sessions, users } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import { getSession } from "../src/trpc";

let t: TestDatabase;
const BASE = "http://127.0.0.1:4999";

beforeAll(async () => {
  t = await createTestDatabase("rlhf_auth");
});
afterAll(async () => {
  await t?.drop();
});

/** Sign in through better-auth's own endpoint, as the login page does; returns the Cookie header. */
async function signIn(email: string, password: string): Promise<{ status: number; cookie: string }> {
  const response = await authRequestHandler(t.db)(
    new Request(`${BASE}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: BASE },
      body: JSON.stringify({ email, password }),
    }),
  );
  const cookie = response.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  return { status: response.status, cookie };
}

describe("auth", () => {
  it("signs in a user created by createUser, with an httpOnly session cookie, and getSession finds them", async () => {
    const created = await createUser(t.db, {
      email: "Ann@Example.com",
      name: "Ann",
      password: "correct horse",
      role: "annotator",
    });
    expect(created.email).toBe("ann@example.com");
    const [account] = await t.db.select().from(accounts).where(eq(accounts.userId, created.id));
    expect(account!.password).not.toContain("correct horse");

    const response = await authRequestHandler(t.db)(
      new Request(`${BASE}/api/auth/sign-in/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: BASE },
        body: JSON.stringify({ email: "ann@example.com", password: "correct horse" }),
      }),
    );
    expect(response.status).toBe(200);
    const setCookie = response.headers.getSetCookie().join("\n");
    expect(setCookie).toMatch(/rlhf\.session_token=.*HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);

    const { cookie } = await signIn("ann@example.com", "correct horse");
    const session = await getSession(new Headers({ cookie }), t.db);
    expect(session).toEqual({
      user: { id: created.id, name: "Ann", email: "ann@example.com", role: "annotator" },
    });
    expect(await getSession(new Headers(), t.db)).toBeNull();
    expect(await getSession(new Headers({ cookie: "rlhf.session_token=forged.value" }), t.db)).toBeNull();
  });

  it("refuses a wrong password, self sign-up, and a cross-site sign-in", async () => {
    expect((await signIn("ann@example.com", "wrong password")).status).toBe(401);
    const signUp = await authRequestHandler(t.db)(
      new Request(`${BASE}/api/auth/sign-up/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: BASE },
        body: JSON.stringify({ email: "eve@example.com", password: "password123", name: "Eve" }),
      }),
    );
    expect(signUp.status).toBeGreaterThanOrEqual(400);
    const crossSite = await authRequestHandler(t.db)(
      new Request(`${BASE}/api/auth/sign-in/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: "https://evil.example" },
        body: JSON.stringify({ email: "ann@example.com", password: "correct horse" }),
      }),
    );
    expect(crossSite.status).toBe(403);
    expect(await t.db.select().from(users).where(eq(users.email, "eve@example.com"))).toEqual([]);
  });

  it("rejects a short password and a taken email with the field and reason", async () => {
    await expect(
      createUser(t.db, { email: "bo@example.com", name: "Bo", password: "short", role: "annotator" }),
    ).rejects.toThrow("password: must be at least 8 characters");
    await expect(
      createUser(t.db, { email: "ann@example.com", name: "A2", password: "long enough", role: "annotator" }),
    ).rejects.toThrow("email: ann@example.com already has an account");
  });

  it("creates the first admin once, even when two requests race", async () => {
    const results = await Promise.allSettled([
      createFirstAdmin(t.db, { email: "root1@example.com", name: "Root", password: "s3cret-pass" }),
      createFirstAdmin(t.db, { email: "root2@example.com", name: "Root", password: "s3cret-pass" }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.find((r) => r.status === "rejected")).toMatchObject({
      reason: { message: "the workbench already has an admin; sign in instead" },
    });
    const admins = await t.db.select().from(users).where(eq(users.role, "admin"));
    expect(admins).toHaveLength(1);
  });

  it("an invitation makes an account once; the link is then spent", async () => {
    const [admin] = await t.db.select().from(users).where(eq(users.role, "admin"));
    const { token } = await createInvite(t.db, { email: "cy@example.com", invitedBy: admin!.id });
    expect(await findInvite(t.db, token)).toMatchObject({ email: "cy@example.com", role: "annotator" });
    const cy = await acceptInvite(t.db, { token, name: "Cy", password: "cy-password" });
    expect(cy.role).toBe("annotator");
    expect((await signIn("cy@example.com", "cy-password")).status).toBe(200);
    await expect(acceptInvite(t.db, { token, name: "Cy2", password: "cy-password" })).rejects.toThrow(
      "this invitation link is not valid",
    );
  });

  it("a blocked user loses their sessions; the last admin cannot be demoted", async () => {
    const { cookie } = await signIn("cy@example.com", "cy-password");
    const [cy] = await t.db.select().from(users).where(eq(users.email, "cy@example.com"));
    expect(await getSession(new Headers({ cookie }), t.db)).not.toBeNull();
    await updateUser(t.db, cy!.id, { banned: true });
    expect(await getSession(new Headers({ cookie }), t.db)).toBeNull();
    expect(await t.db.select().from(sessions).where(eq(sessions.userId, cy!.id))).toEqual([]);

    const [admin] = await t.db.select().from(users).where(eq(users.role, "admin"));
    await expect(updateUser(t.db, admin!.id, { role: "annotator" })).rejects.toThrow(
      "the workbench needs at least one admin",
    );
  });

  it("generates the cookie secret once into the workbench home, readable by its owner only", () => {
    const home = mkdtempSync(path.join(os.tmpdir(), "rlhf-secret-"));
    const first = authSecret({}, home);
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(authSecret({}, home)).toBe(first);
    const file = path.join(home, "auth-secret");
    expect(readFileSync(file, "utf8").trim()).toBe(first);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(authSecret({ BETTER_AUTH_SECRET: "from-env-from-env-from-env-123456" }, home)).toBe(
      "from-env-from-env-from-env-123456",
    );
  });

  it("tells same-site requests from cross-site ones", () => {
    expect(isSameOrigin(new Headers({ "sec-fetch-site": "same-origin" }))).toBe(true);
    expect(isSameOrigin(new Headers({ "sec-fetch-site": "cross-site" }))).toBe(false);
    expect(isSameOrigin(new Headers({ origin: "http://a:1", host: "a:1" }))).toBe(true);
    expect(isSameOrigin(new Headers({ origin: "http://evil", host: "a:1" }))).toBe(false);
    expect(isSameOrigin(new Headers())).toBe(true);
  });
});

describe("issueSessionCookie", () => {
  it("makes a cookie that getSession accepts, as a sign-in would", async () => {
    const user = await createUser(t.db, {
      email: "load@example.com",
      name: "Load",
      password: "load-password",
    });
    const secret = "cookie-secret-cookie-secret-cookie-secret";
    const cookie = await issueSessionCookie(t.db, user.id, { secret });
    const auth = createAuth(t.db, { secret });
    const found = await auth.api.getSession({ headers: new Headers({ cookie }) });
    expect(found?.user.id).toBe(user.id);
    const forged = cookie.replace(/\.[^.]+$/, ".AAAA");
    expect(await auth.api.getSession({ headers: new Headers({ cookie: forged }) })).toBeNull();
  });
});

describe("better-auth's own endpoints", () => {
  it("let no annotator make themself admin, nor reach the admin plugin's endpoints", async () => {
    const user = await createUser(t.db, { email: "sly@example.com", name: "Sly", password: "sly-password" });
    const { cookie } = await signIn("sly@example.com", "sly-password");
    const post = (path: string, body: unknown, withCookie = true) =>
      authRequestHandler(t.db)(
        new Request(`${BASE}/api/auth/${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", origin: BASE, ...(withCookie ? { cookie } : {}) },
          body: JSON.stringify(body),
        }),
      );
    await post("update-user", { role: "admin", name: "Sly" });
    const admin = await post("admin/set-role", { userId: user.id, role: "admin" });
    expect(admin.status).toBeGreaterThanOrEqual(400);
    const anonymous = await post("admin/set-role", { userId: user.id, role: "admin" }, false);
    expect(anonymous.status).toBe(401);
    const listed = await authRequestHandler(t.db)(
      new Request(`${BASE}/api/auth/admin/list-users`, { headers: { cookie } }),
    );
    expect(listed.status).toBeGreaterThanOrEqual(400);
    const [row] = await t.db.select().from(users).where(eq(users.id, user.id));
    expect(row!.role).toBe("annotator");
  });
});

describe("reading a session", () => {
  it("signs cookies exactly as better-auth does, and refuses a tampered or expired one", async () => {
    const secret = "another-secret-another-secret-another";
    expect(cookieSignature("abc.def", secret)).toBe(await makeSignature("abc.def", secret));
    const user = await createUser(t.db, {
      email: "reader@example.com",
      name: "Reader",
      password: "reader-password",
    });
    const cookie = await issueSessionCookie(t.db, user.id, { secret });
    const headers = (value: string) => new Headers({ cookie: `other=1; ${value}` });
    expect(await sessionUser(t.db, headers(cookie), { secret })).toEqual({
      id: user.id,
      name: "Reader",
      email: "reader@example.com",
      role: "annotator",
    });
    expect(await sessionUser(t.db, headers(cookie), { secret: `${secret}x` })).toBeNull();
    expect(await sessionUser(t.db, headers(cookie.replace(/=(.)/, "=x$1")), { secret })).toBeNull();
    await t.pool.query("update sessions set expires_at = now() - interval '1 second' where user_id = $1", [
      user.id,
    ]);
    expect(await sessionUser(t.db, headers(cookie), { secret })).toBeNull();
  });
});

describe("the session cache of an app server", () => {
  it("answers from memory, and a block, a role change or a sign-out in another server ends it at once", async () => {
    const secret = "cache-secret-cache-secret-cache-secret-0";
    const user = await createUser(t.db, { email: "kim@example.com", name: "Kim", password: "kim-password" });
    const cookie = await issueSessionCookie(t.db, user.id, { secret });
    const headers = new Headers({ cookie });
    // Two app servers on one database, each with its own pool and cache.
    const servers = [await openDatabase({ url: t.url }), await openDatabase({ url: t.url })];
    const stops = servers.map((s) => useSessionCache(s.db));
    try {
      const listening = async () => {
        for (let i = 0; i < 200 && !servers.every((s) => sessionCacheListening(s.db)); i++)
          await new Promise((resolve) => setTimeout(resolve, 25));
        expect(servers.map((s) => sessionCacheListening(s.db))).toEqual([true, true]);
      };
      /** The session in each server's eyes, waiting (at most 2 s) for an announcement to arrive. */
      const seen = async (expected: boolean) => {
        let found: boolean[] = [];
        for (let i = 0; i < 80; i++) {
          found = await Promise.all(
            servers.map(async (s) => (await sessionUser(s.db, headers, { secret })) !== null),
          );
          if (found.every((f) => f === expected)) break;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        expect(found).toEqual([expected, expected]);
      };
      await listening();
      await seen(true);
      // Answered from memory: the session row gone behind the servers' backs changes nothing yet...
      await t.pool.query("update sessions set expires_at = now() - interval '1 second' where user_id = $1", [
        user.id,
      ]);
      await seen(true);
      // ...until a change is announced (as a sign-out through authRequestHandler announces it).
      await sessionsChanged(t.db, user.id);
      await seen(false);

      // A block through updateUser, on a fresh session both servers have in memory.
      const again = await issueSessionCookie(t.db, user.id, { secret });
      headers.set("cookie", again);
      await seen(true);
      await updateUser(t.db, user.id, { banned: true });
      await seen(false);

      // A role change is announced too: the new role is read, not the remembered one.
      await updateUser(t.db, user.id, { banned: false });
      const third = await issueSessionCookie(t.db, user.id, { secret });
      headers.set("cookie", third);
      await seen(true);
      await updateUser(t.db, user.id, { role: "admin" });
      for (const s of servers) {
        let role: string | undefined;
        for (let i = 0; i < 80 && role !== "admin"; i++) {
          role = (await sessionUser(s.db, headers, { secret }))?.role;
          if (role !== "admin") await new Promise((resolve) => setTimeout(resolve, 25));
        }
        expect(role).toBe("admin");
      }
    } finally {
      for (const stop of stops) stop();
      for (const s of servers) await s.close();
    }
  });
});
