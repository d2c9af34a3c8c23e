"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import { useQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useEffect, useRef, useState } from "react";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC, useTRPCClient } from "~/trpc/react";
import { QueryError } from "../query-error";

type Line = RouterOutputs["runs"]["logs"][number];

/** A run's log, followed live: the newest lines first, then only lines after the last one (a cursor). */
export function LogTail({ runId, live }: { runId: string; live: boolean }) {
  const t = useTranslations("LogTail");
  const format = useFormat();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const initial = useQuery(trpc.runs.logs.queryOptions({ runId }, { staleTime: Number.POSITIVE_INFINITY }));
  const [lines, setLines] = useState<Line[]>([]);
  const box = useRef<HTMLPreElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    if (initial.data) setLines(initial.data);
  }, [initial.data]);

  useEffect(() => {
    if (!initial.data || !live) return;
    let stopped = false;
    const timer = setInterval(async () => {
      const after = lineCursor.current;
      try {
        const more = await client.runs.logs.query({ runId, afterId: after });
        if (!stopped && more.length > 0) setLines((l) => [...l, ...more].slice(-5000));
      } catch {
        // Next round.
      }
    }, 1000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [client, runId, live, initial.data]);
  const lineCursor = useRef(0);
  lineCursor.current = lines.at(-1)?.id ?? 0;

  // Follow the end unless the reader scrolled up.
  useEffect(() => {
    if (stick.current && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines]);

  if (initial.isError) return <QueryError error={initial.error} what={t("what")} />;
  return (
    <pre
      className="log"
      ref={box}
      data-testid="log"
      onScroll={(e) => {
        const el = e.currentTarget;
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
    >
      {initial.isPending && t("loading")}
      {initial.data && lines.length === 0 && t("empty")}
      {lines.map((line) => (
        <div key={line.id} className={`log__line log__line--${line.level}`}>
          <span className="log__time">{line.ts.toLocaleTimeString(format.locale, { hour12: false })}</span>
          {line.message}
        </div>
      ))}
    </pre>
  );
}
