"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import type { FormEvent } from "react";
import { useTRPC } from "~/trpc/react";

/** Tasks from a model: K responses per prompt from a run's checkpoint, queued as a `generate` job. */
export function GenerateForm() {
  const trpc = useTRPC();
  const sources = useQuery(trpc.admin.generationSources.queryOptions());
  const generate = useMutation(trpc.admin.generate.mutationOptions());

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    generate.mutate({
      runId: String(form.get("runId")),
      prompts: String(form.get("prompts")),
      dataset: String(form.get("dataset")),
      completionsPerPrompt: Number(form.get("k")),
      maxPrompts: Number(form.get("maxPrompts")),
    });
  }

  const runs = sources.data?.runs ?? [];
  const prompts = sources.data?.promptDatasets ?? [];
  return (
    <section className="card" aria-labelledby="generate-heading">
      <div className="card__head">
        <h2 id="generate-heading">Generate tasks from a checkpoint</h2>
      </div>
      {sources.isSuccess && runs.length === 0 ? (
        <p className="muted">
          No finished run with a checkpoint yet. Train one (e.g. <code>pnpm rlhf pipeline --demo</code>) and
          its checkpoint appears here: sampling K responses per prompt from it closes the loop of iterated
          RLHF.
        </p>
      ) : (
        <form className="form" onSubmit={onSubmit}>
          <label>
            Checkpoint (the run's final one)
            <select name="runId" required>
              {runs.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name} · {r.kind} · step {r.step}
                </option>
              ))}
            </select>
          </label>
          <div className="form__row">
            <label>
              Prompts
              <select name="prompts" required>
                {prompts.map((p) => (
                  <option key={p}>{p}</option>
                ))}
              </select>
            </label>
            <label>
              Into dataset
              <input name="dataset" required defaultValue="generated-preferences" />
            </label>
          </div>
          <div className="form__row">
            <label>
              Responses per prompt (K)
              <input name="k" type="number" min={2} max={9} defaultValue={4} />
            </label>
            <label>
              At most prompts
              <input name="maxPrompts" type="number" min={1} defaultValue={100} />
            </label>
          </div>
          {generate.error && <p className="form-error">{generate.error.message}</p>}
          {generate.data && (
            <p className="form-ok" role="status">
              Queued run {generate.data.name}: a worker samples the responses, and the tasks appear in the
              dataset when it finishes (follow it on the dashboard).
            </p>
          )}
          <button
            type="submit"
            className="button button--primary"
            disabled={generate.isPending || runs.length === 0}
          >
            Queue generation
          </button>
        </form>
      )}
    </section>
  );
}
