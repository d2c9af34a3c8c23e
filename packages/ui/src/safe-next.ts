/**
 * Where to go after signing in: a path of this site only, else "/". `next` comes from the URL, so it must
 * never send anyone elsewhere: "//host" and "/\host" are other sites to a browser (it reads "\" as "/").
 */
export function safeNext(next: string | string[] | undefined): string {
  return typeof next === "string" && next.startsWith("/") && !/^\/[/\\]/.test(next) ? next : "/";
}
