"use client";

import { useQuery } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { type RefObject, useCallback, useEffect, useRef, useState } from "react";
import { type BrowserBackend, POLICY_KINDS } from "~/lib/playground";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";

export type BrowserModelLib = typeof import("~/lib/browser-model");
export type LoadedModel = Awaited<ReturnType<BrowserModelLib["loadBrowserCheckpoint"]>>;
export type Run = RouterOutputs["launch"]["options"]["runs"][number];
/** The model built in this page, with the library that runs it. */
export type ModelRef = RefObject<{ lib: BrowserModelLib; loaded: LoadedModel } | null>;
export interface Backend {
  name: string;
  note?: string;
}

export type LoadState =
  | { status: "idle" }
  | { status: "loading"; file: string; loaded: number; total: number | undefined; done: number }
  | { status: "ready"; bytes: number; ms: number }
  | { status: "error"; message: string };

export const FILES = ["config.json", "tokenizer.json", "model.safetensors"] as const;

/** The checkpoint a run offers first: its final one, else its latest. */
export function defaultCheckpoint(run: Run | undefined): string | undefined {
  return (run?.checkpoints.find((c) => c.isFinal) ?? run?.checkpoints[0])?.id;
}

/**
 * Which run and checkpoint the playground shows (kept in the address), and the model built from that
 * checkpoint in this browser: downloaded and built whenever the checkpoint changes, the previous one
 * disposed. `onLoad` runs as a checkpoint starts loading (to clear the outputs of the last one), `onUnload`
 * before a model is disposed (to stop a generation still running on it).
 */
export function useBrowserModel({
  initialRunId,
  initialCheckpointId,
  askedBackend,
  onLoad,
  onUnload,
}: {
  initialRunId: string | undefined;
  initialCheckpointId: string | undefined;
  askedBackend: BrowserBackend | undefined;
  onLoad: () => void;
  onUnload: () => void;
}) {
  const trpc = useTRPC();
  const router = useRouter();
  const options = useQuery(trpc.launch.options.queryOptions());
  const runs = (options.data?.runs ?? []).filter(
    (r) => (POLICY_KINDS as readonly string[]).includes(r.kind) && r.checkpoints.length > 0,
  );
  const [runId, setRunId] = useState(initialRunId);
  const [checkpointId, setCheckpointId] = useState(initialCheckpointId);
  const run = runs.find((r) => r.id === runId);
  const [backend, setBackend] = useState<Backend>();
  const [load, setLoad] = useState<LoadState>({ status: "idle" });
  const modelRef: ModelRef = useRef(null);

  const choose = useCallback(
    (nextRun: string | undefined, nextCheckpoint: string | undefined) => {
      setRunId(nextRun);
      setCheckpointId(nextCheckpoint);
      const query = [
        nextRun && `run=${nextRun}`,
        nextCheckpoint && `checkpoint=${nextCheckpoint}`,
        askedBackend && `backend=${askedBackend}`,
      ].filter(Boolean);
      router.replace(query.length > 0 ? `/playground?${query.join("&")}` : "/playground", { scroll: false });
    },
    [router, askedBackend],
  );

  // A deep link with a run but no checkpoint takes the run's default one.
  useEffect(() => {
    if (run && !checkpointId) choose(run.id, defaultCheckpoint(run));
  }, [run, checkpointId, choose]);

  // Download and build the model whenever the checkpoint changes; dispose the previous one.
  useEffect(() => {
    if (!checkpointId) return;
    const controller = new AbortController();
    let built: LoadedModel | undefined;
    onLoad();
    (async () => {
      const started = performance.now();
      const lib = await import("~/lib/browser-model");
      setBackend(await lib.initBrowserBackend(askedBackend ? [askedBackend] : undefined));
      let done = 0;
      const loaded = await lib.loadBrowserCheckpoint(
        checkpointId,
        (p) => {
          done = FILES.indexOf(p.file as (typeof FILES)[number]);
          setLoad({ status: "loading", ...p, done });
        },
        controller.signal,
      );
      if (controller.signal.aborted) {
        loaded.model.dispose();
        return;
      }
      built = loaded;
      modelRef.current = { lib, loaded };
      setLoad({ status: "ready", bytes: loaded.bytes, ms: performance.now() - started });
    })().catch((error: unknown) => {
      if (!controller.signal.aborted) setLoad({ status: "error", message: (error as Error).message });
    });
    return () => {
      controller.abort();
      onUnload();
      modelRef.current = null;
      built?.model.dispose();
      setLoad({ status: "idle" });
    };
    // The model depends on the checkpoint alone (onLoad and onUnload touch only outputs and refs).
  }, [checkpointId]);

  const ready = load.status === "ready" && modelRef.current !== null;
  return { options, runs, run, runId, checkpointId, choose, backend, load, modelRef, ready };
}
