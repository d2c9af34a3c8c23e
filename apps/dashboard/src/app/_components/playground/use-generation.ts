"use client";

import { useMutation } from "@tanstack/react-query";
import { useRef, useState } from "react";
import {
  type CompletionSettingsInput,
  completionSettingsSchema,
  DEFAULT_SETTINGS,
  firstDifference,
} from "~/lib/playground";
import { useTRPC } from "~/trpc/react";
import { useZodLocale } from "../zod-locale";
import type { ModelRef } from "./use-browser-model";

export interface Generation {
  tokens: number[];
  text: string;
  running: boolean;
  ms: number;
  finish?: "eos" | "length" | "stopped";
  numTensors?: number;
  error?: string;
}

export type GenerationState = ReturnType<typeof useGeneration>;

/**
 * The sampling settings, a generation in this browser (token by token, stoppable) and, when asked, the
 * same one on the server to compare with; where the two part.
 */
export function useGeneration(modelRef: ModelRef, checkpointId: string | undefined, compare: boolean) {
  useZodLocale();
  const trpc = useTRPC();
  const [settings, setSettings] = useState<CompletionSettingsInput>(DEFAULT_SETTINGS);
  const [local, setLocal] = useState<Generation | null>(null);
  const stopRef = useRef<AbortController | null>(null);
  const server = useMutation(trpc.playground.generate.mutationOptions());
  const parsed = completionSettingsSchema.safeParse(settings);

  async function generate() {
    const current = modelRef.current;
    if (!current || !parsed.success || !checkpointId) return;
    const { lib, loaded } = current;
    const controller = new AbortController();
    stopRef.current = controller;
    server.reset();
    const tokens: number[] = [];
    const started = performance.now();
    setLocal({ tokens, text: "", running: true, ms: 0 });
    try {
      const result = await lib.complete(loaded.model, loaded.tokenizer, parsed.data, {
        signal: controller.signal,
        onToken: (token) => {
          tokens.push(token);
          if (modelRef.current !== current) return;
          setLocal({
            tokens: [...tokens],
            text: lib.completionText(loaded.tokenizer, tokens),
            running: true,
            ms: performance.now() - started,
          });
        },
      });
      // Another checkpoint was picked meanwhile (which stopped this one): its page is blank, keep it so.
      if (modelRef.current !== current) return;
      setLocal({
        tokens: result.tokens,
        text: result.text,
        running: false,
        ms: performance.now() - started,
        finish: result.finish,
        numTensors: lib.liveTensors(),
      });
      if (compare && result.finish !== "stopped") {
        server.mutate({ checkpointId, settings: parsed.data });
      }
    } catch (error) {
      if (modelRef.current !== current) return;
      setLocal({ tokens, text: "", running: false, ms: 0, error: (error as Error).message });
    } finally {
      stopRef.current = null;
    }
  }

  const set = <K extends keyof CompletionSettingsInput>(key: K, value: CompletionSettingsInput[K]) =>
    setSettings((s) => ({ ...s, [key]: value }));
  const issue = (key: keyof CompletionSettingsInput) =>
    parsed.success ? undefined : parsed.error.issues.find((i) => i.path[0] === key)?.message;
  const difference =
    local && !local.running && server.data ? firstDifference(local.tokens, server.data.tokens) : undefined;

  return {
    settings,
    set,
    issue,
    valid: parsed.success,
    local,
    server,
    difference,
    generate,
    stop: () => stopRef.current?.abort(),
    /** A new model: the outputs of the last one go. */
    clear: () => {
      setLocal(null);
      server.reset();
    },
  };
}
