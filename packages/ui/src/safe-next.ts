/**
 * Where to go after signing in: a path of this site only, else "/". `next` comes from the URL, so it must
 * never send anyone elsewhere. The decision is the WHATWG URL parser's, the one browsers use: it drops tab,
 * CR and LF anywhere ("/\t/evil.com" is "//evil.com"), reads "\" as "/", and resolves dot segments
 * ("/a/..//evil.com"). A second-character check misses each of these; parsing against a stand-in origin
 * and comparing origins does not. The parsed form is what is handed on, so the browser goes exactly where
 * was checked.
 */
const HERE = "http://this-site.invalid";

export function safeNext(next: string | string[] | undefined): string {
  if (typeof next !== "string" || !next.startsWith("/")) return "/";
  let url: URL;
  try {
    url = new URL(next, `${HERE}/`);
  } catch {
    return "/";
  }
  if (url.origin !== HERE) return "/";
  const path = `${url.pathname}${url.search}${url.hash}`;
  // A path that starts with two slashes is another host to whoever resolves it next.
  return path.startsWith("//") ? "/" : path;
}
