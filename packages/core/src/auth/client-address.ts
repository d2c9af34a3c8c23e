/**
 * Where a request comes from, for rate limits. Forwarded headers are believed only when the workbench is
 * configured to sit behind proxies (RLHF_TRUSTED_PROXIES: their addresses or CIDR ranges, comma-separated);
 * otherwise the client is the TCP peer, which ./client-address.cjs (preloaded into the apps' server) puts
 * into CLIENT_CHAIN_HEADER. Without the preload no address is believed at all: every client shares one
 * strict bucket, which is safe if slow.
 */
import { coreEnv } from "../env";
/** The header ./client-address.cjs writes on every request: "[forwarded chain, ]peer". */
export const CLIENT_CHAIN_HEADER = "x-rlhf-client-chain";

/** The proxies the workbench is told it sits behind (RLHF_TRUSTED_PROXIES), or none. */
export function trustedProxies(value: string | undefined = coreEnv().RLHF_TRUSTED_PROXIES): string[] {
  return (value ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
}

/** Whether this process runs with the preload, so CLIENT_CHAIN_HEADER is the server's and not a client's. */
export function clientAddressKnown(): boolean {
  return (globalThis as { __rlhfClientAddress?: boolean }).__rlhfClientAddress === true;
}
