export { checkRewardSpec, missingExportMessage, moduleExports } from "./check";
