export * from "./configs";
export * from "./formats";
