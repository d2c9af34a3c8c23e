import ReactMarkdown from "react-markdown";

/**
 * Prompts and responses as Markdown, safely: raw HTML in the text is dropped (never injected), links with
 * `javascript:` and other unsafe schemes are neutralised by react-markdown, and images are shown as their
 * alt text so that a response cannot make the annotator's browser fetch a URL.
 */
export function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown
        skipHtml
        disallowedElements={["img"]}
        unwrapDisallowed
        components={{
          a: ({ href, children }) => (
            <a href={href} target="_blank" rel="noopener noreferrer nofollow">
              {children}
            </a>
          ),
        }}
      >
        {text}
      </ReactMarkdown>
    </div>
  );
}

/** A key the user can press, as shown next to each action. */
export function Kbd({ children }: { children: string }) {
  return <kbd className="kbd">{children}</kbd>;
}
