import { compactNumber, REFERENCE_MODELS } from "~/lib/model-facts";
import type { RouterOutputs } from "~/server/api/root";
import { metricValue } from "../format";

type Facts = RouterOutputs["runs"]["detail"]["facts"];

/**
 * Parameters, tokens seen, tokens per parameter (next to GPT-3's and Chinchilla's), bits per byte beside the
 * n-gram baseline, and the final model as a lossless compressor beside gzip.
 */
export function FactsCard({ facts }: { facts: Facts }) {
  const a = facts.architecture;
  return (
    <section className="card" aria-labelledby="facts-heading" data-testid="model-facts">
      <div className="card__head">
        <h2 id="facts-heading">Model</h2>
      </div>
      <dl className="kv">
        <dt>Parameters</dt>
        <dd>
          {facts.parameters !== null
            ? `${compactNumber(facts.parameters)} (${facts.parameters.toLocaleString("en")})`
            : "—"}
        </dd>
        {a && (
          <>
            <dt>Shape</dt>
            <dd>
              d={a.n_embd}, {a.n_layer} layers{a.n_head ? `, ${a.n_head} heads` : ""}, context {a.n_positions}
              , vocab {a.vocab_size}
            </dd>
          </>
        )}
        <dt>Tokens seen</dt>
        <dd>
          {facts.tokensSeen !== null
            ? `${facts.tokensEstimated ? "≈ " : ""}${compactNumber(facts.tokensSeen)}`
            : "—"}
        </dd>
        <dt>Tokens / parameter</dt>
        <dd
          title={REFERENCE_MODELS.map((m) => `${m.name}: ${(m.tokens / m.parameters).toFixed(1)}`).join(
            " · ",
          )}
        >
          {facts.tokensPerParameter !== null ? facts.tokensPerParameter.toFixed(2) : "—"}{" "}
          <span className="muted">
            (GPT-3 {(300e9 / 175e9).toFixed(1)}, Chinchilla {(1.4e12 / 70e9).toFixed(0)})
          </span>
        </dd>
        <dt>Bits per byte</dt>
        <dd>
          {facts.bitsPerByte !== null ? metricValue(facts.bitsPerByte) : "—"}
          {facts.ngramBitsPerByte !== null && (
            <span className="muted">
              {" "}
              ({facts.ngramLabel} baseline: {metricValue(facts.ngramBitsPerByte)})
            </span>
          )}
        </dd>
        {facts.compression && (
          <>
            <dt>As a compressor</dt>
            <dd data-testid="compression-fact">
              compresses held-out text to {facts.compression.bitsPerByte.toFixed(2)} bits/byte
              {facts.compression.gzipBitsPerByte !== null &&
                ` (gzip: ${facts.compression.gzipBitsPerByte.toFixed(2)})`}
              {facts.compression.bytes !== null && (
                <span className="muted">
                  {" "}
                  · {facts.compression.bytes.toLocaleString("en")} bytes, rlhf compress
                </span>
              )}
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}
