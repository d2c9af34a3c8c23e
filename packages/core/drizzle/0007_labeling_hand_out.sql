-- The labeler's hand-out (packages/core/src/labeling/distribution.ts) as one statement: the task the
-- annotator already holds, else now and then a gold task, else an open task whose slots are not all held
-- by others' leases. One round trip instead of four or five; each statement inside sees a fresh snapshot
-- (a VOLATILE function in READ COMMITTED), so the lease count read after locking the candidates sees every
-- lease committed before the locks were granted, as the separate statements did. Idempotent.
CREATE OR REPLACE FUNCTION labeling_task_json(p_task uuid, p_expires timestamptz) RETURNS json
LANGUAGE sql STABLE AS $fn$
  SELECT json_build_object('status', 'task', 'id', t.id, 'dataset_id', t.dataset_id, 'prompt', t.prompt,
    'expires_at', p_expires,
    'completions', (SELECT json_agg(json_build_object('id', c.id, 'position', tc.position, 'response', c.response)
        ORDER BY tc.position)
      FROM task_completions tc JOIN completions c ON c.id = tc.completion_id WHERE tc.task_id = t.id))
  FROM comparison_tasks t WHERE t.id = p_task
$fn$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION labeling_hand_out(p_annotator text, p_dataset uuid, p_lease_seconds float8,
  p_gold_draw float8, p_default_gold_fraction float8, p_sweep boolean) RETURNS json
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  v_gold_tasks int;
  v_fraction float8;
  v_task uuid;
  v_expires timestamptz;
  v_fresh boolean;
  v_ids uuid[];
BEGIN
  SELECT (d.metadata->>'goldTasks')::int, (d.metadata->>'goldFraction')::float8 INTO v_gold_tasks, v_fraction
  FROM datasets d WHERE d.id = p_dataset;
  IF NOT FOUND THEN
    RETURN json_build_object('status', 'no_dataset');
  END IF;

  -- 1. A task they already hold; a lease with more than half its time left is not renewed (no write).
  SELECT t.id, l.expires_at, l.expires_at > now() + make_interval(secs => p_lease_seconds / 2)
  INTO v_task, v_expires, v_fresh
  FROM task_leases l JOIN comparison_tasks t ON t.id = l.task_id
  WHERE l.annotator_id = p_annotator AND t.dataset_id = p_dataset AND l.expires_at > now()
    AND (t.gold_ranking IS NOT NULL OR t.ranking_count < t.required_rankings)
    AND NOT EXISTS (SELECT 1 FROM rankings r WHERE r.task_id = t.id AND r.annotator_id = p_annotator)
  ORDER BY l.expires_at DESC
  LIMIT 1;
  IF FOUND THEN
    IF v_fresh THEN
      RETURN labeling_task_json(v_task, v_expires);
    END IF;
    UPDATE task_leases l SET expires_at = now() + make_interval(secs => p_lease_seconds)
    WHERE l.task_id = v_task AND l.annotator_id = p_annotator
    RETURNING l.expires_at INTO v_expires;
    IF FOUND THEN
      RETURN labeling_task_json(v_task, v_expires);
    END IF;
  END IF;

  -- 2. Now and then a gold task they have not answered (no cap: everyone should see them).
  IF coalesce(v_gold_tasks, 0) <> 0 AND p_gold_draw < coalesce(v_fraction, p_default_gold_fraction) THEN
    SELECT t.id INTO v_task
    FROM comparison_tasks t
    WHERE t.dataset_id = p_dataset AND t.gold_ranking IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM rankings r WHERE r.task_id = t.id AND r.annotator_id = p_annotator)
    ORDER BY md5(t.id::text || p_annotator)
    LIMIT 1;
    IF FOUND THEN
      INSERT INTO task_leases AS l (task_id, annotator_id, expires_at)
      VALUES (v_task, p_annotator, now() + make_interval(secs => p_lease_seconds))
      ON CONFLICT (task_id, annotator_id) DO UPDATE SET expires_at = excluded.expires_at
      RETURNING l.expires_at INTO v_expires;
      RETURN labeling_task_json(v_task, v_expires);
    END IF;
  END IF;

  -- 3. An open task: lock a few candidates nobody else is locking (in the open-task index's order)...
  v_ids := ARRAY(
    SELECT t.id FROM comparison_tasks t
    WHERE t.dataset_id = p_dataset AND t.gold_ranking IS NULL AND t.ranking_count < t.required_rankings
      AND NOT EXISTS (SELECT 1 FROM rankings r WHERE r.task_id = t.id AND r.annotator_id = p_annotator)
      AND t.ranking_count + (SELECT count(*) FROM task_leases l
        WHERE l.task_id = t.id AND l.expires_at > now() AND l.annotator_id <> p_annotator) < t.required_rankings
    LIMIT 8
    FOR UPDATE OF t SKIP LOCKED);
  IF cardinality(v_ids) = 0 THEN
    RETURN json_build_object('status', 'none');
  END IF;
  -- ...then, in a fresh statement that sees every lease committed before the locks were granted, take the
  -- first that still has a free slot.
  INSERT INTO task_leases AS ins (task_id, annotator_id, expires_at)
  SELECT t.id, p_annotator, now() + make_interval(secs => p_lease_seconds)
  FROM comparison_tasks t
  WHERE t.id = ANY (v_ids)
    AND t.ranking_count + (SELECT count(*) FROM task_leases l
      WHERE l.task_id = t.id AND l.expires_at > now() AND l.annotator_id <> p_annotator) < t.required_rankings
  ORDER BY array_position(v_ids, t.id)
  LIMIT 1
  ON CONFLICT (task_id, annotator_id) DO UPDATE SET expires_at = excluded.expires_at
  RETURNING ins.task_id, ins.expires_at INTO v_task, v_expires;
  IF NOT FOUND THEN
    RETURN json_build_object('status', 'none');
  END IF;
  -- Leases of annotators who walked away are never deleted by a submission: swept now and then.
  IF p_sweep THEN
    DELETE FROM task_leases l WHERE l.expires_at < now() - interval '1 hour';
  END IF;
  RETURN labeling_task_json(v_task, v_expires);
END
$fn$;
