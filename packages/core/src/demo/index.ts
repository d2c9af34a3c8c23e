export * from "./generator";
export * from "./oracle";
export * from "./judge";
export * from "./pipeline";
export * from "./seed";
export * from "./stages";
