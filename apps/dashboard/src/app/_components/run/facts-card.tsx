"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import { useTranslations } from "next-intl";
import { compactNumber, REFERENCE_MODELS } from "~/lib/model-facts";
import type { RouterOutputs } from "~/server/api/root";

type Facts = RouterOutputs["runs"]["detail"]["facts"];

/**
 * Parameters, tokens seen, tokens per parameter (next to GPT-3's and Chinchilla's), bits per byte beside the
 * n-gram baseline, and the final model as a lossless compressor beside gzip.
 */
export function FactsCard({ facts }: { facts: Facts }) {
  const t = useTranslations("FactsCard");
  const format = useFormat();
  const a = facts.architecture;
  const compression = facts.compression;
  return (
    <section className="card" aria-labelledby="facts-heading" data-testid="model-facts">
      <div className="card__head">
        <h2 id="facts-heading">{t("heading")}</h2>
      </div>
      <dl className="kv">
        <dt>{t("parameters")}</dt>
        <dd>
          {facts.parameters !== null
            ? `${compactNumber(facts.parameters)} (${format.integer(facts.parameters)})`
            : "—"}
        </dd>
        {a && (
          <>
            <dt>{t("shape")}</dt>
            <dd>
              {t(a.n_head ? "shapeHeads" : "shapeValue", {
                d: a.n_embd,
                layers: a.n_layer,
                heads: a.n_head ?? 0,
                context: a.n_positions,
                vocab: a.vocab_size,
              })}
            </dd>
          </>
        )}
        <dt>{t("tokensSeen")}</dt>
        <dd>
          {facts.tokensSeen !== null
            ? `${facts.tokensEstimated ? "≈ " : ""}${compactNumber(facts.tokensSeen)}`
            : "—"}
        </dd>
        <dt>{t("tokensPerParameter")}</dt>
        <dd
          title={REFERENCE_MODELS.map((m) => `${m.name}: ${(m.tokens / m.parameters).toFixed(1)}`).join(
            " · ",
          )}
        >
          {facts.tokensPerParameter !== null ? facts.tokensPerParameter.toFixed(2) : "—"}{" "}
          <span className="muted">
            {t("references", { gpt3: (300e9 / 175e9).toFixed(1), chinchilla: (1.4e12 / 70e9).toFixed(0) })}
          </span>
        </dd>
        <dt>{t("bitsPerByte")}</dt>
        <dd>
          {facts.bitsPerByte !== null ? format.metricValue(facts.bitsPerByte) : "—"}
          {facts.ngramBitsPerByte !== null && (
            <span className="muted">
              {" "}
              {t("baseline", { model: facts.ngramLabel, bits: format.metricValue(facts.ngramBitsPerByte) })}
            </span>
          )}
        </dd>
        {compression && (
          <>
            <dt>{t("asCompressor")}</dt>
            <dd data-testid="compression-fact">
              {compression.gzipBitsPerByte !== null
                ? t("compressesGzip", {
                    bits: compression.bitsPerByte.toFixed(2),
                    gzip: compression.gzipBitsPerByte.toFixed(2),
                  })
                : t("compresses", { bits: compression.bitsPerByte.toFixed(2) })}
              {compression.bytes !== null && (
                <span className="muted">
                  {" "}
                  · {t("compressedBytes", { bytes: format.integer(compression.bytes) })}
                </span>
              )}
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}
