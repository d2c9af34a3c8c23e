/** The run page's tabs (a plain module: the server page and the client component both read it). */
export const RUN_TABS = ["charts", "samples", "logs", "config", "checkpoints"] as const;
export type RunTab = (typeof RUN_TABS)[number];
