"use client";

import { type JobKind, jobConfigSchemas } from "@rlhf/core/configs";
import { useServerText } from "@rlhf/ui/query-error";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useEffect, useMemo, useState } from "react";
import { type ConfigIssue, configFields, setPath, validateConfig } from "~/lib/config-form";
import { useTRPC } from "~/trpc/react";
import { useZodLocale } from "../zod-locale";
import type { FieldContext } from "./field-context";

export const KINDS = Object.keys(jobConfigSchemas) as JobKind[];

export type LaunchFormState = ReturnType<typeof useLaunchForm>;

/**
 * The launch form's state: the kind, the values typed, which fields were touched, the issues (the
 * schema's as you type, the server's after a refused launch), and the launch itself.
 */
export function useLaunchForm(initialKind: JobKind | undefined, fromId: string | undefined) {
  useZodLocale();
  const trpc = useTRPC();
  const say = useServerText();
  const router = useRouter();
  const options = useQuery(trpc.launch.options.queryOptions());
  const from = useQuery(
    trpc.runs.configs.queryOptions({ ids: [fromId ?? ""] }, { enabled: Boolean(fromId) }),
  );
  const [kind, setKind] = useState<JobKind>(initialKind ?? "pretrain");
  const [values, setValues] = useState<Record<string, unknown>>({});
  const [name, setName] = useState("");
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [submitted, setSubmitted] = useState(false);
  const [serverIssues, setServerIssues] = useState<ConfigIssue[] | null>(null);

  // "Launch again with changes": the earlier run's kind and config (defaults filled, inputs pinned to ids).
  const source = from.data?.[0];
  useEffect(() => {
    if (!source || !KINDS.includes(source.kind as JobKind)) return;
    setKind(source.kind as JobKind);
    setValues(source.config);
    setName(`${source.name}-again`);
  }, [source]);

  const fields = useMemo(() => configFields(kind), [kind]);
  const issues = serverIssues ?? validateConfig(kind, values);
  const launch = useMutation(
    trpc.launch.run.mutationOptions({
      onSuccess: (result) => {
        if (result.ok) router.push(`/runs/${result.run.id}`);
        // The server's words in the page's language (its English when a code is unknown).
        else setServerIssues(result.issues.map((i) => ({ ...i, message: say(i.text) ?? i.message })));
      },
    }),
  );

  const change = (path: string, value: unknown) => {
    setValues((v) => setPath(v, path, value));
    setServerIssues(null);
  };
  const touch = (path: string) => setTouched((t) => new Set(t).add(path));
  const issuesUnder = (path: string) =>
    submitted || touched.has(path)
      ? issues.filter((i) => i.path === path || i.path.startsWith(`${path}.`))
      : [];
  const issueOf = (path: string) => issuesUnder(path)[0]?.message;
  const general = issues.filter(
    (i) => !fields.some((f) => i.path === f.path || i.path.startsWith(`${f.path}.`)),
  );

  const ctx: FieldContext = {
    kind,
    prefix: "",
    scope: kind,
    values,
    change,
    touch,
    issueOf,
    issuesUnder,
    options: options.data,
  };

  return {
    kind,
    fields,
    ctx,
    options,
    source,
    name,
    setName,
    issues,
    general,
    submitted,
    serverIssues,
    launch,
    /** Another kind: a blank form. */
    pickKind(next: JobKind) {
      setKind(next);
      setValues({});
      setTouched(new Set());
      setSubmitted(false);
      setServerIssues(null);
    },
    submit() {
      setSubmitted(true);
      if (validateConfig(kind, values).length > 0) return;
      launch.mutate({ kind, name: name.trim() || undefined, config: values });
    },
  };
}
