/** Where to go after signing in: a path of this site only, else "/" (`next` comes from the URL). */
export function safeNext(next: string | string[] | undefined): string {
  return typeof next === "string" && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}
