/**
 * The playground's WASM backend loads tfjs-backend-wasm's .wasm binaries from this app (public/tfjs-wasm/),
 * never from a CDN: copied from the installed package before `next dev` and `next build`, so they always
 * match its version.
 */
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const app = fileURLToPath(new URL("..", import.meta.url));
const dist = path.dirname(
  createRequire(path.join(app, "package.json")).resolve("@tensorflow/tfjs-backend-wasm"),
);
const target = path.join(app, "public/tfjs-wasm");
mkdirSync(target, { recursive: true });
const binaries = readdirSync(dist).filter((f) => f.endsWith(".wasm"));
if (binaries.length === 0) throw new Error(`no .wasm files in ${dist}`);
for (const file of binaries) copyFileSync(path.join(dist, file), path.join(target, file));
