/**
 * The apps' server preload: the client-address header is always the server's own (the TCP peer), a
 * client's X-Forwarded-For is put in front of it only when RLHF_TRUSTED_PROXIES says the workbench sits
 * behind proxies, and better-auth then reads the client from the right as configured.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { getIP } from "better-auth/api";
import { afterEach, describe, expect, it } from "vitest";
import { CLIENT_CHAIN_HEADER } from "../src/auth/client-address";
import { CLIENT_ADDRESS_PRELOAD } from "../src/auth/preload";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill();
});

/** A bare http server with the preload, answering each request with the header the preload wrote. */
async function echoServer(env: Record<string, string>): Promise<string> {
  const code = `require("node:http").createServer((q, s) => s.end(String(q.headers["${CLIENT_CHAIN_HEADER}"]) + "|" + String(globalThis.__rlhfClientAddress))).listen(0, "127.0.0.1", function () { console.log(this.address().port); });`;
  const child = spawn(process.execPath, ["--require", CLIENT_ADDRESS_PRELOAD, "-e", code], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const port = await new Promise<string>((resolve) =>
    child.stdout!.once("data", (d) => resolve(String(d).trim())),
  );
  return `http://127.0.0.1:${port}`;
}

describe("the client-address preload", () => {
  it("writes the TCP peer, ignoring the client's own X-Forwarded-For and client-address header", async () => {
    const url = await echoServer({ RLHF_TRUSTED_PROXIES: "" });
    const text = await (
      await fetch(url, {
        headers: { "x-forwarded-for": "203.0.113.9", [CLIENT_CHAIN_HEADER]: "198.51.100.1" },
      })
    ).text();
    expect(text).toBe("127.0.0.1|true");
  });

  it("behind configured proxies, keeps the forwarded chain before the peer; the client is the first untrusted hop from the right", async () => {
    const url = await echoServer({ RLHF_TRUSTED_PROXIES: "127.0.0.1" });
    const [chain] = (
      await (await fetch(url, { headers: { "x-forwarded-for": "203.0.113.9, 192.0.2.7" } })).text()
    ).split("|");
    expect(chain).toBe("203.0.113.9, 192.0.2.7, 127.0.0.1");
    // As auth.ts configures better-auth: this header, and these proxies.
    const request = new Request("http://127.0.0.1/api/auth/sign-in/email", {
      headers: { [CLIENT_CHAIN_HEADER]: chain! },
    });
    const options = {
      advanced: { ipAddress: { ipAddressHeaders: [CLIENT_CHAIN_HEADER], trustedProxies: ["127.0.0.1"] } },
    };
    expect(getIP(request, options as Parameters<typeof getIP>[1])).toBe("192.0.2.7");
  });
});
