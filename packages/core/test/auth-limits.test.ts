/**
 * Abuse of the sign-in and account endpoints, through better-auth's handler as the apps mount it: failed
 * sign-ins counted per account whatever address they claim, the app's name and email rules on the
 * library's own update-user endpoint, capped bodies and no NUL characters.
 */
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AUTH_MAX_BODY_BYTES,
  authRequestHandler,
  createInvite,
  createUser,
  SignInLimiter,
} from "../src/auth";
import { users } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";

let t: TestDatabase;
const BASE = "http://127.0.0.1:4999";

beforeAll(async () => {
  t = await createTestDatabase("rlhf_auth_limits");
  await createUser(t.db, {
    email: "target@example.com",
    name: "Target",
    password: "right password",
    role: "admin",
  });
  await createUser(t.db, { email: "other@example.com", name: "Other", password: "other password" });
});
afterAll(async () => {
  await t?.drop();
});

function post(
  handler: (request: Request) => Promise<Response>,
  route: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return handler(
    new Request(`${BASE}/api/auth/${route}`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: BASE, ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
}

const cookieOf = (response: Response) =>
  response.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");

describe("sign-in limits", () => {
  it("counts failed sign-ins per account, whatever X-Forwarded-For each request claims", async () => {
    const handler = authRequestHandler(t.db, new SignInLimiter(5, 60_000));
    for (let i = 0; i < 5; i++) {
      const wrong = await post(
        handler,
        "sign-in/email",
        { email: "target@example.com", password: `guess ${i}` },
        { "x-forwarded-for": `203.0.113.${i}` },
      );
      expect(wrong.status).toBe(401);
    }
    // Even the right password waits now: the attacker does not learn when they guessed it.
    const blocked = await post(
      handler,
      "sign-in/email",
      { email: "Target@Example.com ", password: "right password" },
      { "x-forwarded-for": "198.51.100.77" },
    );
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await blocked.json()) as { message: string }).message).toMatch(
      /Too many failed sign-ins for this account/,
    );
    // Another account is not affected, and its success clears nothing of the first.
    expect(
      (await post(handler, "sign-in/email", { email: "other@example.com", password: "other password" }))
        .status,
    ).toBe(200);
    expect(
      (await post(handler, "sign-in/email", { email: "target@example.com", password: "right password" }))
        .status,
    ).toBe(429);
  });

  it("clears an account's count when it signs in, and forgets failures older than the window", async () => {
    let now = 1_000_000;
    const limiter = new SignInLimiter(2, 60_000, () => now);
    limiter.failed("a@x");
    limiter.failed("a@x");
    expect(limiter.retryAfter("a@x")).toBe(60);
    now += 30_000;
    expect(limiter.retryAfter("a@x")).toBe(30);
    now += 30_001;
    expect(limiter.retryAfter("a@x")).toBe(0);
    limiter.failed("b@x");
    limiter.succeeded("b@x");
    limiter.failed("b@x");
    expect(limiter.retryAfter("b@x")).toBe(0);
  });
});

describe("account fields through better-auth's own endpoints", () => {
  it("update-user keeps the app's name rules: no empty, long or NUL names; bodies over the cap are 413", async () => {
    const handler = authRequestHandler(t.db, new SignInLimiter());
    const signedIn = await post(handler, "sign-in/email", {
      email: "other@example.com",
      password: "other password",
    });
    expect(signedIn.status).toBe(200);
    const cookie = cookieOf(signedIn);
    const update = (body: unknown) => post(handler, "update-user", body, { cookie });
    const cases: [unknown, number, RegExp][] = [
      [{ name: "" }, 400, /name: must not be empty/],
      [{ name: "   " }, 400, /name: must not be empty/],
      [{ name: "x".repeat(101) }, 400, /name: at most 100 characters/],
      [{ name: "x".repeat(300_000) }, 413, /over the limit of 65536 bytes/],
      [{ name: "Ann\u0000" }, 400, /name: contains a NUL/],
      [{ image: "data:".padEnd(3000, "A") }, 400, /image: at most 2048/],
      [JSON.stringify({ name: "A" }).padEnd(AUTH_MAX_BODY_BYTES + 10, " "), 413, /over the limit/],
    ];
    for (const [body, status, message] of cases) {
      const response = await update(body);
      expect(response.status, JSON.stringify(body).slice(0, 60)).toBe(status);
      expect(((await response.json()) as { message: string }).message).toMatch(message);
    }
    const [stored] = await t.db.select().from(users).where(eq(users.email, "other@example.com"));
    expect(stored!.name).toBe("Other");
    const fine = await update({ name: "  Other Person  " });
    expect(fine.status).toBe(200);
    const [renamed] = await t.db.select().from(users).where(eq(users.email, "other@example.com"));
    expect(renamed!.name).toBe("Other Person");
  });

  it("an invitation's email is at most 254 characters", async () => {
    const [admin] = await t.db.select().from(users).where(eq(users.email, "target@example.com"));
    const huge = `${"a".repeat(1_100_000)}@example.com`;
    await expect(createInvite(t.db, { email: huge, invitedBy: admin!.id })).rejects.toThrow(
      /^email: at most 254 characters/,
    );
    await expect(
      createInvite(t.db, { email: `${"a".repeat(250)}@x.io`, invitedBy: admin!.id }),
    ).rejects.toThrow(/at most 254/);
    const ok = await createInvite(t.db, { email: "new.person@example.com", invitedBy: admin!.id });
    expect(ok).toBeTruthy();
  });
});
