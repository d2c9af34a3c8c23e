/**
 * Jobs: launching runs (one at a time or as a pipeline), cancelling them, and the transitions workers
 * make — claim, heartbeat, settle an attempt, reap lost workers. The `runs` row is the truth about a run;
 * pg-boss (schema `pgboss`, queue `rlhf-runs`) delivers it to exactly one worker. See docs/jobs.md.
 */

export {
  type AttemptPlace,
  failAttempt,
  finishAttempt,
  handBackRun,
  latestCheckpoint,
  markRunning,
  recordProgress,
  recoverAbandonedRun,
} from "./attempt";
export {
  BOSS_SCHEMA,
  queueFor,
  queueOfKind,
  RUN_QUEUE,
  RUN_QUEUES,
  type RunJobData,
  type RunQueue,
  type RunQueueName,
  SERVE_QUEUE,
} from "./boss";
export { type CancelResult, cancelRun } from "./cancel";
export {
  type CreateRunOptions,
  createRun,
  type LaunchedRun,
  type LaunchRunOptions,
  launchPipeline,
  launchRun,
  type PipelineStep,
  validateRunConfig,
} from "./launch";
export {
  type AttemptExit,
  type AttemptOutcome,
  type Claim,
  claimRun,
  describeExit,
  type HeartbeatState,
  heartbeat,
  type ReapOptions,
  reapStaleRuns,
  recoverOwnRuns,
  settleAttempt,
  type WorkerIdentity,
} from "./lifecycle";
export {
  findRun,
  getRun,
  isUuid,
  RUN_NAME_MAX,
  RunNotFoundError,
  type RunRecord,
  resolveCheckpointRef,
  runNameProblem,
} from "./refs";
export { type ListRunsOptions, type LogLine, listRuns, runDetail, runLineage, runLogLines } from "./runs";
export { closestName, didYouMean, editDistance } from "./suggest";
