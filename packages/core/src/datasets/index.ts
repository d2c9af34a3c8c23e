/** The datasets the trainers read, brought in from files: text corpora, SFT pairs and prompts (./import.ts). */
export {
  DatasetImportError,
  IMPORT_DATASET_KINDS,
  type ImportDatasetKind,
  type ImportDatasetOptions,
  type ImportDatasetResult,
  importDataset,
  isEvalRow,
  MAX_IMPORT_BYTES,
  textDocuments,
} from "./import";
