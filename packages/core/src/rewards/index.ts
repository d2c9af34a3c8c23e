export { checkRewardSpec, findPackageAbove, missingExportMessage, moduleExports } from "./check";
