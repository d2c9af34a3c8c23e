"use client";

import type { GPT, Tokenizer } from "@rlhf/trainer/browser";
import { bytes as formatBytes } from "@rlhf/ui/format";
import { useTranslations } from "next-intl";
import { useEffect, useState } from "react";

/** The primer's example: a model that knows the rule needs few bits for it. */
const FIBONACCI_LINE = "0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, …";
const MAGIC = new TextEncoder().encode("RLHFLM");

type Loaded = { model: GPT; tokenizer: Tokenizer };

interface Compressed {
  input: Uint8Array;
  file: Uint8Array;
  /** The arithmetic coder's bytes alone, without the header and checksum. */
  payloadBytes: number;
  name: string;
  ms: number;
  gzipBytes: number;
  numerics: string;
}

interface Progress {
  phase: "compress" | "decompress";
  done: number;
  total: number;
}

interface Restored {
  bytes: Uint8Array;
  ms: number;
  identical?: boolean;
}

const startsWithMagic = (b: Uint8Array) => MAGIC.every((m, i) => b[i] === m);
const perSecond = (n: number, ms: number) => `${formatBytes(Math.round((n * 1000) / Math.max(ms, 1)))}/s`;

/**
 * Compress / Decompress with the playground's checkpoint, in this browser: the model's next-token
 * probabilities drive an arithmetic coder (rlhf compress's, from @rlhf/trainer/browser). Text typed here or
 * any file; a compressed file (.rlz) opened here is decompressed. Files decode only on the same backend in
 * a browser (the header records it): the CLI's do not decode here, nor these with the CLI.
 */
export function CompressBox({
  loaded,
  checkpointId,
  ready,
}: {
  /** The playground's model, when it is ready. */
  loaded: () => Loaded | undefined;
  checkpointId: string | undefined;
  ready: boolean;
}) {
  const t = useTranslations("CompressBox");
  const c = useCompressor(loaded, checkpointId);
  return (
    <section className="card" aria-labelledby="compress-heading" data-testid="compress-box">
      <div className="card__head">
        <h2 id="compress-heading">{t("heading")}</h2>
      </div>
      <p className="muted">{t.rich("lead", { code: (chunks) => <code>{chunks}</code> })}</p>
      <label className="label" htmlFor="compress-text" style={{ display: "block" }}>
        {t("text")}
      </label>
      <textarea
        id="compress-text"
        className="input"
        style={{ width: "100%", fontFamily: "inherit" }}
        rows={4}
        value={c.text}
        disabled={c.toCompress !== null}
        onChange={(e) => c.setText(e.target.value)}
      />
      <div className="row" style={{ marginTop: 8, gap: 8, flexWrap: "wrap" }}>
        <label className="label">
          {t("orFile")}{" "}
          <input
            type="file"
            aria-label={t("open")}
            onChange={async (e) => {
              const f = e.target.files?.[0];
              c.setOpened(f ? { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) } : null);
            }}
          />
        </label>
        <button
          type="button"
          className="btn"
          disabled={!ready || c.busy}
          onClick={() => void c.run("compress")}
        >
          {t("compress")}
        </button>
        <button
          type="button"
          className="btn"
          disabled={!ready || c.busy || !c.toDecompress}
          onClick={() => void c.run("decompress")}
        >
          {t("decompress")}
        </button>
      </div>
      {c.progress && <CoderProgress progress={c.progress} />}
      {c.error && (
        <div className="alert" role="alert" style={{ marginTop: 10 }} data-testid="compress-error">
          {c.error}
        </div>
      )}
      {c.compressed && <CompressResult compressed={c.compressed} download={c.download} />}
      {c.restored && <RestoreResult restored={c.restored} />}
    </section>
  );
}

const bits = (n: number, of: number) => (of > 0 ? ((n * 8) / of).toFixed(2) : "—");

function CoderProgress({ progress }: { progress: Progress }) {
  const t = useTranslations("CompressBox");
  const percent = (progress.done / Math.max(progress.total, 1)) * 100;
  return (
    <div style={{ marginTop: 10 }}>
      <div
        className="progress"
        role="progressbar"
        aria-label={t(`phase.${progress.phase}`)}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(percent)}
      >
        <div className="progress__bar" style={{ width: `${percent}%` }} />
      </div>
      <span className="muted">
        {t("progress", {
          phase: t(`phase.${progress.phase}`),
          done: formatBytes(progress.done),
          total: formatBytes(progress.total),
        })}
      </span>
    </div>
  );
}

function CompressResult({ compressed, download }: { compressed: Compressed; download: string | null }) {
  const t = useTranslations("CompressBox");
  const size = compressed.input.length;
  return (
    <p style={{ marginTop: 10 }} data-testid="compress-result" data-file-bytes={compressed.file.length}>
      {formatBytes(size)} → {formatBytes(compressed.file.length)}:{" "}
      {t.rich("result", {
        bits: bits(compressed.file.length, size),
        alone: bits(compressed.payloadBytes, size),
        gzip: bits(compressed.gzipBytes, size),
        strong: (chunks) => <strong>{chunks}</strong>,
      })}{" "}
      · {perSecond(size, compressed.ms)}
      {download && (
        <>
          {" "}
          ·{" "}
          <a href={download} download={compressed.name}>
            {t("download", { name: compressed.name })}
          </a>
        </>
      )}
      <br />
      <span className="muted">{t("header", { numerics: compressed.numerics })}</span>
    </p>
  );
}

function RestoreResult({ restored }: { restored: Restored }) {
  const t = useTranslations("CompressBox");
  return (
    <div style={{ marginTop: 10 }} data-testid="decompress-result">
      <p>
        {t("restored", {
          bytes: formatBytes(restored.bytes.length),
          ms: Math.round(restored.ms),
          rate: perSecond(restored.bytes.length, restored.ms),
        })}
        {restored.identical !== undefined && (restored.identical ? t("identical") : t("different"))}
      </p>
      <pre className="sample-text" data-testid="restored-text" style={{ maxWidth: "none" }}>
        {new TextDecoder().decode(restored.bytes.subarray(0, 4000))}
      </pre>
    </div>
  );
}

/** The box's state and its two actions, on the playground's model. */
function useCompressor(loaded: () => Loaded | undefined, checkpointId: string | undefined) {
  const [text, setText] = useState(FIBONACCI_LINE);
  const [opened, setOpened] = useState<{ name: string; bytes: Uint8Array } | null>(null);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [compressed, setCompressed] = useState<Compressed | null>(null);
  const [restored, setRestored] = useState<Restored | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [download, setDownload] = useState<string | null>(null);

  // Another checkpoint: earlier results belong to the old model.
  useEffect(() => {
    setCompressed(null);
    setRestored(null);
    setError(null);
  }, [checkpointId]);
  useEffect(() => {
    if (!compressed) return;
    const url = URL.createObjectURL(new Blob([compressed.file as Uint8Array<ArrayBuffer>]));
    setDownload(url);
    return () => URL.revokeObjectURL(url);
  }, [compressed]);

  const busy = progress !== null;
  const toCompress = opened && !startsWithMagic(opened.bytes) ? opened : null;
  const toDecompress = opened && startsWithMagic(opened.bytes) ? opened : compressed;

  async function run(phase: "compress" | "decompress") {
    const current = loaded();
    if (!current || !checkpointId) return;
    setError(null);
    setRestored(null);
    const lib = await import("~/lib/browser-compress");
    const numerics = await lib.browserNumerics();
    const started = performance.now();
    const onProgress = (done: number, total: number) => setProgress({ phase, done, total });
    try {
      if (phase === "compress") {
        const input = toCompress?.bytes ?? new TextEncoder().encode(text);
        setCompressed(null);
        setProgress({ phase, done: 0, total: input.length });
        const result = await lib.compress(current.model, current.tokenizer, input, {
          checkpointRef: `playground:${checkpointId}`,
          numerics,
          onProgress,
        });
        setCompressed({
          input,
          file: result.file,
          payloadBytes: result.header.payloadBytes,
          name: `${toCompress?.name ?? "text"}.rlz`,
          ms: performance.now() - started,
          gzipBytes: await lib.gzipLength(input),
          numerics: numerics.id,
        });
      } else if (toDecompress) {
        const file = "file" in toDecompress ? toDecompress.file : toDecompress.bytes;
        const output = await lib.decompress(current.model, current.tokenizer, file, {
          checkpointRef: `playground:${checkpointId}`,
          numerics,
          source: toDecompress.name,
          onProgress,
        });
        const original = "input" in toDecompress ? toDecompress.input : undefined;
        setRestored({
          bytes: output,
          ms: performance.now() - started,
          identical:
            original && original.length === output.length && original.every((b, i) => b === output[i]),
        });
      }
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setProgress(null);
    }
  }

  return {
    text,
    setText,
    setOpened,
    progress,
    compressed,
    restored,
    error,
    download,
    busy,
    toCompress,
    toDecompress,
    run,
  };
}
