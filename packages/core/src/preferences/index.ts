/**
 * Preference data: comparison tasks and their rankings, expanded into pairs for reward models and DPO.
 * See docs/reward-and-dpo.md.
 */
export {
  describeRankingSources,
  type LoadRankingGroupsOptions,
  loadRankingGroups,
  type PlainPreference,
  type PreferenceSplit,
  preferenceDatasets,
  preferencePairs,
  type RankingGroup,
  splitByTask,
  taskHash,
  taskSplit,
} from "./load";
export { expandRankingToPairs, type PreferencePair, type RankingAnswer } from "./pairs";
export {
  type CreatedTask,
  createComparisonTasks,
  ensureOracleUser,
  MAX_TASK_COMPLETIONS,
  type NewComparisonTask,
  ORACLE_USER_ID,
  type RankingSubmission,
  rankWithOracle,
  recordRankings,
} from "./tasks";
