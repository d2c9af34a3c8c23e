/**
 * Whether a state-changing request comes from this site's own pages. Browsers say where a request comes
 * from (`Sec-Fetch-Site`, `Origin`); a request from another site's page is refused, which is what stops
 * cross-site request forgery along with SameSite=Lax cookies. Clients that are not browsers send neither
 * header and carry no victim's cookies, so they pass. `url` (the request's) stands in for a missing Host.
 */
export function isSameOrigin(headers: Headers, url?: string): boolean {
  const site = headers.get("sec-fetch-site");
  if (site) return site === "same-origin" || site === "none";
  const origin = headers.get("origin");
  if (!origin) return true;
  const host = headers.get("x-forwarded-host") ?? headers.get("host") ?? (url ? new URL(url).host : null);
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
