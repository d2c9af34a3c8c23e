// Message keys are checked by TypeScript: t("Annotator.sumbit") does not compile.
import type { Locale } from "@rlhf/core/locales";
import type { UiMessages } from "@rlhf/ui/i18n/request";
import type en from "../../messages/en.json";

declare module "next-intl" {
  interface AppConfig {
    Locale: Locale;
    Messages: typeof en & UiMessages;
  }
}
