export { checkRewardSpec, moduleExports } from "./check";
