/**
 * Starting an app's server with ./client-address.cjs preloaded (`rlhf start`, the apps' tests and
 * benchmarks). Node-only: not part of the auth barrel, which the apps bundle.
 */
import { fileURLToPath } from "node:url";
import { coreEnv } from "../env";

/** The preload's file, for `node --require`. */
export const CLIENT_ADDRESS_PRELOAD = fileURLToPath(new URL("./client-address.cjs", import.meta.url));

/** NODE_OPTIONS for an app server: the caller's own options plus the preload. */
export function appServerNodeOptions(existing: string | undefined = coreEnv().NODE_OPTIONS): string {
  return [existing, `--require ${JSON.stringify(CLIENT_ADDRESS_PRELOAD)}`].filter(Boolean).join(" ");
}
