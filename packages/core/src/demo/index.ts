export * from "./generator";
export * from "./oracle";
export * from "./seed";
export * from "./stages";
