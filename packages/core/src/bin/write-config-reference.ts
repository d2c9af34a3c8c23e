// Writes docs/reference/configs.md from the job-config schemas (`pnpm docs:configs`).
import { renderConfigReference } from "../configs/reference";
import { writeReferencePage } from "./reference-page";

writeReferencePage("configs.md", renderConfigReference());
