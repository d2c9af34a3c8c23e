/**
 * `@rlhf/trainer`: run a job in this process, as `rlhf train` and a worker's job process do, and the contract
 * every trainer is written against. Everything that runs a model is a subpath (`/model`, `/tokenizer`,
 * `/checkpoint`, `/data`, `/serve`…), so importing one part never loads the others.
 */
export { type ExecuteOptions, type ExecuteResult, executeRun, resolveCheckpointRef } from "./jobs/execute";
export { type JobContext, JobInputError, type RunSummary } from "./train/context";
