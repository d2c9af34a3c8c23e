/**
 * Response headers both apps send on every page and route (their next.config.ts `headers()`): no other site
 * may frame them (clickjacking: a hidden frame over a "Launch" or "Submit" button), browsers do not guess
 * content types, and links to other sites carry no path of ours.
 */
export const securityHeaders = [
  { key: "Content-Security-Policy", value: "frame-ancestors 'none'" },
  { key: "X-Frame-Options", value: "DENY" },
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "same-origin" },
];
