/** The labeler's languages: its catalogue (messages/{en,zh}.json) and the shared components' (see @rlhf/ui). */
import { i18nRequestConfig } from "@rlhf/ui/i18n/request";
import en from "../../messages/en.json";
import zh from "../../messages/zh.json";

export default i18nRequestConfig({ en, zh });
