/**
 * The labeler's rules, shared by its routers, the CLI and the load bench: handing out tasks
 * (./distribution.ts), storing answers (./submit.ts), progress, agreement, the model leaderboard, gold
 * tasks, and import/export. See docs/labeling.md.
 */
export {
  type AgreementReport,
  type AlphaMetric,
  agreementOf,
  datasetAgreement,
  krippendorffAlpha,
  pairAgreement,
  ranksOf,
} from "./agreement";
export {
  detectImportKind,
  EXPORT_FORMATS,
  type ExportFormat,
  exportPreferences,
  generateTasksSchema,
  generationSources,
  type ImportKind,
  type ImportOptions,
  type ImportResult,
  importJsonl,
  launchGenerateTasks,
  promptImportLineSchema,
  taskImportLineSchema,
  trlImportLineSchema,
} from "./data-io";
export {
  DEFAULT_GOLD_FRACTION,
  LEASE_SECONDS,
  type NextTaskOptions,
  nextTask,
  releaseTask,
  type TaskForAnnotator,
  taskCompletionsInOrder,
} from "./distribution";
export { LabelingError } from "./errors";
export { type GoldAccuracy, goldAccuracy, scoreAgainstGold } from "./gold";
export {
  type Battle,
  bradleyTerry,
  datasetBattles,
  datasetLeaderboard,
  leaderboardOf,
  type Rating,
} from "./leaderboard";
export {
  type AnnotatorProgress,
  type AnnotatorStats,
  annotatorProgress,
  annotatorStats,
  type DatasetProgress,
  datasetsProgress,
} from "./progress";
export {
  datasetRefSchema,
  FLAG_LABELS,
  nextTaskInputSchema,
  type ResponseFlag,
  type SubmitRankingInput,
  submitRankingSchema,
} from "./schemas";
export {
  ownRanking,
  ownRankings,
  rankingProblem,
  type SubmitResult,
  submitRanking,
  UNDO_SECONDS,
  undoLastRanking,
} from "./submit";
