import { messageText, type ServerText } from "../server-text";

/**
 * A labeling rule was broken: `code` says how the apps should answer (tRPC's codes), `message` says what
 * to do about it, in words an annotator or admin can act on.
 */
export class LabelingError extends Error {
  constructor(
    readonly code: "BAD_REQUEST" | "NOT_FOUND" | "CONFLICT" | "FORBIDDEN",
    message: string,
  ) {
    super(message);
    this.name = "LabelingError";
    this.text = messageText(message);
  }
  /** The message as codes, for a page in another language (server-text.ts). */
  readonly text: ServerText;
}
