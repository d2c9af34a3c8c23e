CREATE TABLE "metric_rollups" (
	"run_id" uuid NOT NULL,
	"key" text NOT NULL,
	"span" integer NOT NULL,
	"block" bigint NOT NULL,
	"min_step" bigint NOT NULL,
	"min_value" double precision NOT NULL,
	"max_step" bigint NOT NULL,
	"max_value" double precision NOT NULL,
	"last_step" bigint NOT NULL,
	"last_value" double precision NOT NULL,
	"child_min_steps" bigint[] NOT NULL,
	"child_min_values" double precision[] NOT NULL,
	"child_max_steps" bigint[],
	"child_max_values" double precision[],
	"child_last_steps" bigint[],
	"child_last_values" double precision[],
	"prefix_min" integer[] NOT NULL,
	"prefix_max" integer[] NOT NULL,
	"suffix_min" integer[] NOT NULL,
	"suffix_max" integer[] NOT NULL,
	CONSTRAINT "metric_rollups_run_id_key_span_block_pk" PRIMARY KEY("run_id","key","span","block"),
	CONSTRAINT "metric_rollups_span_check" CHECK ("metric_rollups"."span" in (32, 512, 8192, 131072))
);
--> statement-breakpoint
ALTER TABLE "metric_rollups" ADD CONSTRAINT "metric_rollups_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
-- The maintenance of metric_rollups (src/series/rollups.ts explains the layout). The spans here —
-- 32 · 16^level, level 0..3 — are ROLLUP_SPANS there.
--
-- Writers of one series take turns until they commit (a transaction-scoped advisory lock per run and
-- key, taken in a fixed order), so each rebuild below sees every point committed before it.
CREATE FUNCTION metric_rollups_lock(run_ids uuid[], series_keys text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(1836213620, h)
  FROM (
    SELECT DISTINCT hashtext(s.run_id::text || '/' || s.key) AS h
    FROM unnest(run_ids, series_keys) AS s(run_id, key)
    ORDER BY 1
  ) locks;
END $$;
--> statement-breakpoint
-- Rebuild the rollups of the 32-step blocks `base_blocks` of the series (run_ids[i], series_keys[i]):
-- the block rows themselves from `metrics` where from_points[i] (the others were just written by
-- writeMetricPoints), and the rows above them at every span from the rows one level down.
CREATE FUNCTION metric_rollups_refresh(
  run_ids uuid[], series_keys text[], base_blocks bigint[], from_points boolean[]
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  span_ bigint;
BEGIN
  PERFORM metric_rollups_lock(run_ids, series_keys);
  FOREACH span_ IN ARRAY ARRAY[32, 512, 8192, 131072] LOOP
    WITH touched AS (
      SELECT DISTINCT t.run_id, t.key, t.block / (span_ / 32) AS block
      FROM unnest(run_ids, series_keys, base_blocks, from_points) AS t(run_id, key, block, rebuild)
      WHERE span_ > 32 OR t.rebuild
    ), islands AS (
      -- Runs of consecutive blocks: one index range scan each.
      SELECT run_id, key, min(block) AS lo, max(block) AS hi
      FROM (
        SELECT *, block - row_number() OVER (PARTITION BY run_id, key ORDER BY block) AS island FROM touched
      ) t
      GROUP BY run_id, key, island
    ), children AS (
      -- The points of a 32-step block; the rows one level down otherwise.
      SELECT i.run_id, i.key, c.*
      FROM islands i CROSS JOIN LATERAL (
        SELECT m.step / 32 AS parent, m.step AS min_step, m.value AS min_value, m.step AS max_step,
               m.value AS max_value, m.step AS last_step, m.value AS last_value
        FROM metrics m
        WHERE span_ = 32 AND m.run_id = i.run_id AND m.key = i.key
          AND m.step BETWEEN i.lo * 32 AND i.hi * 32 + 31
        UNION ALL
        SELECT r.block / 16, r.min_step, r.min_value, r.max_step, r.max_value, r.last_step, r.last_value
        FROM metric_rollups r
        WHERE span_ > 32 AND r.run_id = i.run_id AND r.key = i.key AND r.span = span_ / 16
          AND r.block BETWEEN i.lo * 16 AND i.hi * 16 + 15
      ) c
    ), numbered AS (
      SELECT *, row_number() OVER (PARTITION BY run_id, key, parent ORDER BY min_step) AS i FROM children
    ), ranked AS (
      -- Arrays compare element by element: the running min of [value, i] is the smallest value at its
      -- earliest child, the running max of [value, -i] the largest at its earliest.
      SELECT *,
        (min(ARRAY[min_value, i]) OVER forward)[2]::integer AS prefix_min,
        (-(max(ARRAY[max_value, -i]) OVER forward)[2])::integer AS prefix_max,
        (min(ARRAY[min_value, i]) OVER backward)[2]::integer AS suffix_min,
        (-(max(ARRAY[max_value, -i]) OVER backward)[2])::integer AS suffix_max
      FROM numbered
      WINDOW forward AS (PARTITION BY run_id, key, parent ORDER BY i),
             backward AS (PARTITION BY run_id, key, parent ORDER BY i DESC)
    ), fresh AS (
      SELECT run_id, key, parent AS block,
        min(ARRAY[min_value, min_step]) AS lo, max(ARRAY[max_value, -max_step]) AS hi,
        max(ARRAY[last_step, last_value]) AS last,
        array_agg(min_step ORDER BY i) AS min_steps, array_agg(min_value ORDER BY i) AS min_values,
        array_agg(max_step ORDER BY i) AS max_steps, array_agg(max_value ORDER BY i) AS max_values,
        array_agg(last_step ORDER BY i) AS last_steps, array_agg(last_value ORDER BY i) AS last_values,
        array_agg(prefix_min ORDER BY i) AS prefix_min, array_agg(prefix_max ORDER BY i) AS prefix_max,
        array_agg(suffix_min ORDER BY i) AS suffix_min, array_agg(suffix_max ORDER BY i) AS suffix_max
      FROM ranked
      GROUP BY run_id, key, parent
    ), emptied AS (
      DELETE FROM metric_rollups r
      USING touched t
      WHERE r.run_id = t.run_id AND r.key = t.key AND r.span = span_ AND r.block = t.block
        AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.run_id = t.run_id AND f.key = t.key AND f.block = t.block)
    )
    INSERT INTO metric_rollups AS r (
      run_id, key, span, block, min_step, min_value, max_step, max_value, last_step, last_value,
      child_min_steps, child_min_values, child_max_steps, child_max_values, child_last_steps,
      child_last_values, prefix_min, prefix_max, suffix_min, suffix_max
    )
    SELECT run_id, key, span_, block, lo[2], lo[1], -hi[2], hi[1], last[1], last[2],
      min_steps, min_values,
      CASE WHEN span_ > 32 THEN max_steps END, CASE WHEN span_ > 32 THEN max_values END,
      CASE WHEN span_ > 32 THEN last_steps END, CASE WHEN span_ > 32 THEN last_values END,
      prefix_min, prefix_max, suffix_min, suffix_max
    FROM fresh
    ORDER BY run_id, key, block
    ON CONFLICT (run_id, key, span, block) DO UPDATE SET
      min_step = excluded.min_step, min_value = excluded.min_value,
      max_step = excluded.max_step, max_value = excluded.max_value,
      last_step = excluded.last_step, last_value = excluded.last_value,
      child_min_steps = excluded.child_min_steps, child_min_values = excluded.child_min_values,
      child_max_steps = excluded.child_max_steps, child_max_values = excluded.child_max_values,
      child_last_steps = excluded.child_last_steps, child_last_values = excluded.child_last_values,
      prefix_min = excluded.prefix_min, prefix_max = excluded.prefix_max,
      suffix_min = excluded.suffix_min, suffix_max = excluded.suffix_max;
  END LOOP;
END $$;
--> statement-breakpoint
-- Any write to metrics that did not come through writeMetricPoints (which sets rlhf.metric_rollups for
-- its own statement) rebuilds the blocks it touched from the points: exact whoever writes, if slower.
CREATE FUNCTION metric_rollups_after_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  touched record;
BEGIN
  IF current_setting('rlhf.metric_rollups', true) = 'written' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(run_id) AS run_ids, array_agg(key) AS series_keys, array_agg(block) AS blocks
    INTO touched
    FROM (SELECT DISTINCT run_id, key, step / 32 AS block FROM new_points) t;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT array_agg(run_id) AS run_ids, array_agg(key) AS series_keys, array_agg(block) AS blocks
    INTO touched
    FROM (
      SELECT run_id, key, step / 32 AS block FROM new_points
      UNION SELECT run_id, key, step / 32 FROM old_points
    ) t;
  ELSE
    -- Points deleted with their run (ON DELETE CASCADE) take their rollups along: skip those runs.
    SELECT array_agg(run_id) AS run_ids, array_agg(key) AS series_keys, array_agg(block) AS blocks
    INTO touched
    FROM (
      SELECT DISTINCT p.run_id, p.key, p.step / 32 AS block
      FROM old_points p JOIN runs ON runs.id = p.run_id
    ) t;
  END IF;
  IF touched.run_ids IS NOT NULL THEN
    PERFORM metric_rollups_refresh(
      touched.run_ids, touched.series_keys, touched.blocks,
      array_fill(true, ARRAY[cardinality(touched.run_ids)])
    );
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER metrics_rollups_insert AFTER INSERT ON metrics
  REFERENCING NEW TABLE AS new_points
  FOR EACH STATEMENT EXECUTE FUNCTION metric_rollups_after_write();
--> statement-breakpoint
CREATE TRIGGER metrics_rollups_update AFTER UPDATE ON metrics
  REFERENCING OLD TABLE AS old_points NEW TABLE AS new_points
  FOR EACH STATEMENT EXECUTE FUNCTION metric_rollups_after_write();
--> statement-breakpoint
CREATE TRIGGER metrics_rollups_delete AFTER DELETE ON metrics
  REFERENCING OLD TABLE AS old_points
  FOR EACH STATEMENT EXECUTE FUNCTION metric_rollups_after_write();
--> statement-breakpoint
CREATE FUNCTION metric_rollups_after_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE metric_rollups;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER metrics_rollups_truncate AFTER TRUNCATE ON metrics
  FOR EACH STATEMENT EXECUTE FUNCTION metric_rollups_after_truncate();
--> statement-breakpoint
-- Series written before this migration.
SELECT metric_rollups_refresh(
  array_agg(run_id), array_agg(key), array_agg(block), array_fill(true, ARRAY[count(*)::integer])
)
FROM (SELECT DISTINCT run_id, key, step / 32 AS block FROM metrics) t;
