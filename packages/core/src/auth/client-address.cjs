"use strict";
/**
 * Preloaded into the apps' server (`node --require`, see ./client-address.ts): who a request comes from is
 * the TCP connection's peer, written into the `x-rlhf-client-chain` header on every request (replacing
 * anything the client sent under that name). X-Forwarded-For, which any client can send, is added in front
 * of the peer only when RLHF_TRUSTED_PROXIES names the proxies the workbench sits behind; better-auth then
 * walks that chain from the right, skipping those proxies (its `trustedProxies`). A Next.js route handler
 * never sees the socket, so this is the one place the address can be learnt from it.
 *
 * It is also where an app may answer a request before Next.js's router sees it: a function the app puts on
 * `globalThis.__rlhfServeBeforeNext` (the labeler's /api/trpc, see apps/labeler/src/instrumentation.ts) is
 * offered every request, after the address header is set, and returns true for those it answers itself.
 */
const http = require("node:http");

const HEADER = "x-rlhf-client-chain";
const trusting = (process.env.RLHF_TRUSTED_PROXIES ?? "").trim() !== "";
const emit = http.Server.prototype.emit;

http.Server.prototype.emit = function emitWithClientAddress(event, request, ...rest) {
  if (event === "request" && request && request.headers) {
    const peer = request.socket?.remoteAddress ?? "";
    const forwarded = trusting ? request.headers["x-forwarded-for"] : undefined;
    request.headers[HEADER] = forwarded ? `${forwarded}, ${peer}` : peer;
    if (globalThis.__rlhfServeBeforeNext?.(request, rest[0])) return true;
  }
  return emit.call(this, event, request, ...rest);
};

globalThis.__rlhfClientAddress = true;
