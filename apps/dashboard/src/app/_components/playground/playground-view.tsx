"use client";

import { useState } from "react";
import type { BrowserBackend } from "~/lib/playground";
import { QueryError } from "../query-error";
import { useSession } from "../session";
import { CompressBox } from "./compress-box";
import { ModelPicker } from "./model-picker";
import { Outputs } from "./outputs";
import { SettingsForm } from "./settings-form";
import { useBrowserModel } from "./use-browser-model";
import { useGeneration } from "./use-generation";

/**
 * The playground: a checkpoint picked, downloaded and run in this browser (model loading), a generation
 * with the settings typed (generation), and the same generation on the server beside it (comparison).
 */
export function PlaygroundView({
  initialRunId,
  initialCheckpointId,
  backend: askedBackend,
}: {
  initialRunId?: string;
  initialCheckpointId?: string;
  /** A backend asked for in the address (`?backend=wasm`); otherwise the first that starts. */
  backend?: BrowserBackend;
}) {
  const [compareWanted, setCompare] = useState(true);
  // The browser's run is free for anyone; the server's costs the dashboard's CPU, so it needs an account.
  const { user } = useSession();
  const compare = compareWanted && user !== null;
  const model = useBrowserModel({
    initialRunId,
    initialCheckpointId,
    askedBackend,
    // Called from the model's effects, after this render has defined `gen`.
    onLoad: () => gen.clear(),
    onUnload: () => gen.stop(),
  });
  const gen = useGeneration(model.modelRef, model.checkpointId, compare);

  if (model.options.error) return <QueryError error={model.options.error} what="the runs" />;

  return (
    <div className="stack">
      <ModelPicker model={model} askedBackend={askedBackend} />
      <SettingsForm
        gen={gen}
        ready={model.ready}
        compare={compare}
        setCompare={setCompare}
        signedIn={user !== null}
      />
      <Outputs gen={gen} backend={model.backend} compare={compare} />
      <CompressBox
        loaded={() => model.modelRef.current?.loaded}
        checkpointId={model.checkpointId}
        ready={model.ready}
      />
    </div>
  );
}
