"use client";

import {
  closestCenter,
  DndContext,
  type DragEndEvent,
  PointerSensor,
  useSensor,
  useSensors,
} from "@dnd-kit/core";
import { SortableContext, useSortable, verticalListSortingStrategy } from "@dnd-kit/sortable";
import type { ResponseFlag } from "@rlhf/core/labeling";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Route } from "next";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC, useTRPCClient } from "~/trpc/react";
import { Kbd, Markdown } from "../../_components/markdown";
import { QueryError } from "../../_components/query-error";
import {
  type AnswerState,
  groupsOf,
  initialAnswer,
  moved,
  type PairChoice,
  toggledFlag,
  toSubmission,
} from "./answer";

type Task = NonNullable<RouterOutputs["labeling"]["next"]>;
type Sources = RouterOutputs["labeling"]["submit"]["sources"];

/** OpenAssistant's flags, with the digit that sets each in flag mode (F). */
const FLAGS = [
  { key: "1", flag: "spam", label: "Spam" },
  { key: "2", flag: "harmful", label: "Harmful" },
  { key: "3", flag: "wrong_language", label: "Not in the prompt's language" },
  { key: "4", flag: "fails_task", label: "Fails the task" },
] as const;

const UNDO_MS = 60_000;

/** How a response is named on screen: A/B side by side, numbers 1..K in a ranking. */
const labelOf = (position: number, pairwise: boolean) => (pairwise ? "AB"[position]! : String(position + 1));

type FlagMode = { step: "response" } | { step: "flag"; completionId: string } | null;

/**
 * The annotating screen: one task at a time, every action on a key shown beside it. `taskId` opens one of
 * the annotator's own earlier answers to change it instead of the next task.
 */
/** Retries of an unconfirmed answer: with the backoff below, about two and a half minutes in all. */
const SUBMIT_RETRIES = 12;

/**
 * Whether a failed submission may have been lost on the way rather than refused: no HTTP answer at all,
 * or the server could not reach its database (503). A refusal (bad answer, not yours) is final.
 */
function unconfirmed(error: { data?: { httpStatus?: number } | null }): boolean {
  return !error.data || error.data.httpStatus === 503;
}

export function Annotator({
  datasetId,
  datasetName,
  taskId,
}: {
  datasetId: string;
  datasetName: string;
  taskId?: string;
}) {
  const trpc = useTRPC();
  const trpcClient = useTRPCClient();
  const queryClient = useQueryClient();
  const router = useRouter();
  const editing = taskId !== undefined;
  const utcOffsetMinutes = useMemo(() => -new Date().getTimezoneOffset(), []);

  // Asking for the next task takes a lease, so it is a mutation on the server; the page keeps its answer
  // in the query cache like any other read.
  const nextKey = useMemo(() => ["labeling.next", datasetId] as const, [datasetId]);
  const next = useQuery({
    queryKey: nextKey,
    queryFn: () => trpcClient.labeling.next.mutate({ datasetId }),
    enabled: !editing,
    staleTime: Number.POSITIVE_INFINITY,
    refetchOnWindowFocus: false,
  });
  const own = useQuery(
    trpc.labeling.own.queryOptions(
      { taskId: taskId ?? "" },
      { enabled: editing, staleTime: Number.POSITIVE_INFINITY },
    ),
  );
  const progress = useQuery(trpc.labeling.progress.queryOptions({ datasetId, utcOffsetMinutes }));
  const task: Task | null | undefined = editing
    ? own.data && {
        taskId: own.data.taskId,
        datasetId,
        prompt: own.data.prompt,
        completions: own.data.completions,
        leaseExpiresAt: new Date(),
      }
    : next.data;

  // The answer and the task it belongs to: for the one render between a new task arriving and its answer
  // being set up, the old answer must not be drawn over the new task's responses.
  const [answer, setAnswer] = useState<{ taskId: string; state: AnswerState } | null>(null);
  const state = answer && task && answer.taskId === task.taskId ? answer.state : null;
  const setState = useCallback(
    (next: AnswerState) => setAnswer((current) => current && { taskId: current.taskId, state: next }),
    [],
  );
  const [flagMode, setFlagMode] = useState<FlagMode>(null);
  const [selected, setSelected] = useState(0);
  const [warning, setWarning] = useState<string | null>(null);
  const [lastSubmitted, setLastSubmitted] = useState<{
    taskId: string;
    state: AnswerState;
    sources: Sources;
    at: number;
  } | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const shownAt = useRef(Date.now());
  const idempotencyKey = useRef<string>("");
  const restore = useRef<{ taskId: string; state: AnswerState } | null>(null);
  const noteRef = useRef<HTMLTextAreaElement>(null);
  const pairwise = task ? task.completions.length === 2 : false;

  // A new task: fresh answer (or the one being changed, or the one just undone), fresh key, clock restarted.
  const loadedTaskId = task?.taskId;
  useEffect(() => {
    if (!task) return;
    const display = task.completions.map((c) => c.id);
    let initial = initialAnswer(display);
    if (restore.current?.taskId === task.taskId) initial = restore.current.state;
    else if (editing && own.data) initial = answerFrom(own.data.answer, display);
    restore.current = null;
    setAnswer({ taskId: task.taskId, state: initial });
    setSelected(0);
    setFlagMode(null);
    setWarning(null);
    idempotencyKey.current = crypto.randomUUID();
    shownAt.current = Date.now();
  }, [loadedTaskId]);

  useEffect(() => {
    if (!lastSubmitted) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [lastSubmitted]);

  const refresh = useCallback(async () => {
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: nextKey }),
      queryClient.invalidateQueries({ queryKey: trpc.labeling.progress.queryKey() }),
    ]);
  }, [queryClient, trpc, nextKey]);

  const submit = useMutation(
    trpc.labeling.submit.mutationOptions({
      // An answer the server did not confirm (no reply, or the database unreachable) is sent again with
      // the same key, so it is stored once however many times it arrives; the page says it is retrying.
      retry: (failures, error) => unconfirmed(error) && failures < SUBMIT_RETRIES,
      retryDelay: (failures) => Math.min(1000 * 2 ** failures, 15_000),
      onSuccess: async (result, variables) => {
        if (state && !variables.skipped)
          setLastSubmitted({ taskId: variables.taskId, state, sources: result.sources, at: Date.now() });
        else setLastSubmitted(null);
        if (editing) {
          await queryClient.invalidateQueries({ queryKey: trpc.labeling.mine.queryKey() });
          router.push("/history" as Route);
          return;
        }
        // The reply carries the next task: show it without another request.
        if (result.next !== undefined) queryClient.setQueryData(nextKey, result.next);
        await queryClient.invalidateQueries({ queryKey: trpc.labeling.progress.queryKey() });
      },
      onError: async (error) => {
        // The task filled up meanwhile (its lease ran out): nothing to retry, take the next one.
        if (error.data?.code === "CONFLICT" && !editing) await refresh();
      },
    }),
  );
  const undo = useMutation(
    trpc.labeling.undo.mutationOptions({
      onSuccess: async (result) => {
        if (result && lastSubmitted?.taskId === result.taskId)
          restore.current = { taskId: result.taskId, state: lastSubmitted.state };
        setLastSubmitted(null);
        await refresh();
      },
    }),
  );

  const send = useCallback(
    (kind: "answer" | "skip") => {
      if (!task || !state || submit.isPending) return;
      const timeMs = Date.now() - shownAt.current;
      if (kind === "skip") {
        submit.mutate({
          taskId: task.taskId,
          skipped: true,
          timeMs,
          idempotencyKey: idempotencyKey.current,
          nextIn: editing ? undefined : datasetId,
        });
        return;
      }
      const answer = toSubmission(state, pairwise);
      if ("problem" in answer) {
        setWarning(answer.problem);
        return;
      }
      if (!pairwise && !state.touched && !state.allBad && !editing && warning === null) {
        setWarning(
          "You have not changed the order: is the order as shown really your ranking? Press Enter again to submit it.",
        );
        return;
      }
      setWarning(null);
      submit.mutate({
        taskId: task.taskId,
        nextIn: editing ? undefined : datasetId,
        ranking: answer.ranking,
        allBad: answer.allBad,
        strength: answer.strength,
        flags: state.flags,
        note: state.note || undefined,
        timeMs,
        idempotencyKey: idempotencyKey.current,
      });
    },
    [task, state, submit, pairwise, editing, warning, datasetId],
  );

  const canUndo = lastSubmitted !== null && now - lastSubmitted.at < UNDO_MS && !editing;

  // Every action has a key. Typing in the note only listens for Escape and Ctrl/⌘+Enter.
  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      const inText = event.target instanceof HTMLTextAreaElement || event.target instanceof HTMLInputElement;
      // Undo works on the "nothing left" screen too: the last answer may have been the last task.
      if (
        !inText &&
        !flagMode &&
        event.key.toLowerCase() === "u" &&
        canUndo &&
        !event.ctrlKey &&
        !event.metaKey
      ) {
        event.preventDefault();
        undo.mutate();
        return;
      }
      if (!task || !state) return;
      if (inText) {
        if (event.key === "Escape") (event.target as HTMLElement).blur();
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          send("answer");
        }
        return;
      }
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      const ids = state.order;

      if (flagMode) {
        event.preventDefault();
        if (key === "Escape") return setFlagMode(null);
        if (flagMode.step === "response") {
          const position = pairwise
            ? key === "a" || key === "1"
              ? 0
              : key === "b" || key === "2"
                ? 1
                : -1
            : Number(key) - 1;
          const completion = task.completions[position];
          if (completion) setFlagMode({ step: "flag", completionId: completion.id });
          return;
        }
        const flag = FLAGS.find((f) => f.key === key);
        if (flag) {
          setState(toggledFlag(state, flagMode.completionId, flag.flag));
          setFlagMode(null);
        }
        return;
      }

      const handled = () => event.preventDefault();
      if (key === "Enter") {
        handled();
        send("answer");
        return;
      }
      if (key === "s") {
        handled();
        send("skip");
        return;
      }
      if (key === "f") {
        handled();
        setFlagMode({ step: "response" });
        return;
      }
      if (key === "n") {
        handled();
        noteRef.current?.focus();
        return;
      }
      if (pairwise) {
        const choose = (choice: PairChoice) => {
          handled();
          setWarning(null);
          setState({ ...state, choice, strength: choice === "a" || choice === "b" ? state.strength : null });
        };
        if (key === "1" || key === "ArrowLeft") return choose("a");
        if (key === "2" || key === "ArrowRight") return choose("b");
        if (key === "t") return choose("tie");
        if (key === "b") return choose("bad");
        if (key === "m" && (state.choice === "a" || state.choice === "b")) {
          handled();
          return setState({
            ...state,
            strength: state.strength === null ? 1 : state.strength === 1 ? 2 : null,
          });
        }
        return;
      }
      // K-wise: select, move, tie, none acceptable.
      if (/^[1-9]$/.test(key)) {
        const id = task.completions[Number(key) - 1]?.id;
        if (id) {
          handled();
          setSelected(ids.indexOf(id));
        }
        return;
      }
      if (key === "ArrowUp" || key === "ArrowDown") {
        handled();
        const step = key === "ArrowUp" ? -1 : 1;
        if (event.shiftKey) {
          const target = selected + step;
          if (target >= 0 && target < ids.length) {
            setState(moved(state, selected, target));
            setSelected(target);
            setWarning(null);
          }
        } else setSelected(Math.min(ids.length - 1, Math.max(0, selected + step)));
        return;
      }
      if (key === "t" && selected > 0) {
        handled();
        const id = ids[selected]!;
        const tied = state.tied.includes(id) ? state.tied.filter((x) => x !== id) : [...state.tied, id];
        setWarning(null);
        return setState({ ...state, tied, touched: true });
      }
      if (key === "b") {
        handled();
        setState({ ...state, allBad: !state.allBad });
        return;
      }
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [task, state, flagMode, pairwise, selected, send, canUndo, undo]);

  const sensors = useSensors(useSensor(PointerSensor, { activationConstraint: { distance: 5 } }));
  const onDragEnd = (event: DragEndEvent) => {
    if (!state || !event.over) return;
    const from = state.order.indexOf(String(event.active.id));
    const to = state.order.indexOf(String(event.over.id));
    setState(moved(state, from, to));
    setSelected(to);
    setWarning(null);
  };
  // The buttons beside each response: ranking by touch without dragging small handles.
  const moveBy = (id: string, step: -1 | 1) => {
    if (!state) return;
    const from = state.order.indexOf(id);
    const to = from + step;
    if (to < 0 || to >= state.order.length) return;
    setState(moved(state, from, to));
    setSelected(to);
    setWarning(null);
  };

  const query = editing ? own : next;
  if (query.isPending) return <p className="empty">Loading the next task…</p>;
  if (query.isError) return <QueryError error={query.error} what="the task" />;

  const side = (
    <aside className="stack">
      <ProgressCard progress={progress.data} />
      <KeysCard pairwise={pairwise} />
    </aside>
  );

  if (!task) {
    return (
      <div className="layout">
        <section className="card empty" data-testid="no-task">
          <p>
            <strong>Nothing left for you in {datasetName}.</strong>
          </p>
          <p className="muted">Every task has the rankings it needs, or you have answered it. Thank you!</p>
          {lastSubmitted && canUndo && (
            <UndoBar
              lastSubmitted={lastSubmitted}
              pairwise={lastSubmitted.sources.length === 2}
              now={now}
              onUndo={() => undo.mutate()}
            />
          )}
          <Link href="/" className="button">
            Back to datasets
          </Link>
        </section>
        {side}
      </div>
    );
  }
  if (!state) return null;

  const positionOf = new Map(task.completions.map((c) => [c.id, c.position]));
  const byId = new Map(task.completions.map((c) => [c.id, c]));
  const flagsOf = (id: string) => (
    <FlagChips flags={state.flags[id] ?? []} onToggle={(flag) => setState(toggledFlag(state, id, flag))} />
  );

  return (
    <div className="layout">
      <div className="stack" data-testid="task" data-task-id={task.taskId}>
        {lastSubmitted && canUndo && (
          <UndoBar
            lastSubmitted={lastSubmitted}
            pairwise={lastSubmitted.sources.length === 2}
            now={now}
            onUndo={() => undo.mutate()}
          />
        )}
        <section className="card prompt-card">
          <div className="card__head">
            <h2>Prompt</h2>
            <span className="muted">
              {editing
                ? "Changing your answer"
                : `${pairwise ? "Pairwise" : `Rank ${task.completions.length}`} · ${datasetName}`}
            </span>
          </div>
          <div className="scroll-box scroll-box--prompt">
            <Markdown text={task.prompt} />
          </div>
        </section>

        {pairwise ? (
          <>
            <div className="pair">
              {task.completions.map((c) => (
                <section
                  key={c.id}
                  className={`card response${isWinner(state.choice, c.position) ? " response--chosen" : ""}${state.choice === "bad" ? " response--bad" : ""}`}
                  data-testid={`response-${labelOf(c.position, true)}`}
                >
                  <div className="card__head">
                    <h2>Response {labelOf(c.position, true)}</h2>
                    {flagsOf(c.id)}
                  </div>
                  <div className="scroll-box">
                    <Markdown text={c.response} />
                  </div>
                </section>
              ))}
            </div>
            <section className="card choices" aria-label="Your answer">
              <div className="choice-row">
                <Choice
                  active={state.choice === "a"}
                  keyHint="1"
                  onClick={() => setState({ ...state, choice: "a" })}
                >
                  A is better
                </Choice>
                <Choice
                  active={state.choice === "b"}
                  keyHint="2"
                  onClick={() => setState({ ...state, choice: "b" })}
                >
                  B is better
                </Choice>
                <Choice
                  active={state.choice === "tie"}
                  keyHint="T"
                  onClick={() => setState({ ...state, choice: "tie", strength: null })}
                >
                  Tie
                </Choice>
                <Choice
                  active={state.choice === "bad"}
                  keyHint="B"
                  onClick={() => setState({ ...state, choice: "bad", strength: null })}
                >
                  Both bad
                </Choice>
              </div>
              <div className="strength-row">
                <span className="muted">
                  How much better? <Kbd>M</Kbd>
                </span>
                {([null, 1, 2] as const).map((s) => (
                  <button
                    key={String(s)}
                    type="button"
                    className={`chip${state.strength === s ? " chip--on" : ""}`}
                    disabled={state.choice !== "a" && state.choice !== "b"}
                    onClick={() => setState({ ...state, strength: s })}
                  >
                    {s === null ? "not said" : s === 1 ? "slightly" : "much"}
                  </button>
                ))}
              </div>
            </section>
          </>
        ) : (
          <section className="card card--flush" aria-label="Ranking, best first">
            <div className="card__head card__head--padded">
              <h2>Rank best to worst</h2>
              <span className="muted">
                drag, ▲ ▼, or select with 1–{task.completions.length} / ↑↓ and move with Shift+↑↓
              </span>
            </div>
            <DndContext sensors={sensors} collisionDetection={closestCenter} onDragEnd={onDragEnd}>
              <SortableContext items={state.order} strategy={verticalListSortingStrategy}>
                <ol className={`ranking${state.allBad ? " ranking--bad" : ""}`} data-testid="ranking">
                  {groupsOf(state.order, state.tied).flatMap((group, g) =>
                    group.map((id, j) => (
                      <SortableResponse
                        key={id}
                        id={id}
                        rank={g + 1}
                        tied={j > 0}
                        label={labelOf(positionOf.get(id)!, false)}
                        selected={state.order[selected] === id}
                        onSelect={() => setSelected(state.order.indexOf(id))}
                        onMove={(step) => moveBy(id, step)}
                        first={state.order[0] === id}
                        last={state.order.at(-1) === id}
                        flags={flagsOf(id)}
                      >
                        <Markdown text={byId.get(id)!.response} />
                      </SortableResponse>
                    )),
                  )}
                </ol>
              </SortableContext>
            </DndContext>
            <div className="choice-row choice-row--padded">
              <Choice
                active={false}
                keyHint="T"
                disabled={selected === 0}
                onClick={() => {
                  const id = state.order[selected]!;
                  const tied = state.tied.includes(id)
                    ? state.tied.filter((x) => x !== id)
                    : [...state.tied, id];
                  setState({ ...state, tied, touched: true });
                }}
              >
                Tie with the one above
              </Choice>
              <Choice
                active={state.allBad}
                keyHint="B"
                onClick={() => setState({ ...state, allBad: !state.allBad })}
              >
                None is acceptable
              </Choice>
            </div>
          </section>
        )}

        <section className="card">
          <label className="note">
            <span>
              Note <span className="muted">(optional)</span> <Kbd>N</Kbd>
            </span>
            <textarea
              ref={noteRef}
              value={state.note}
              maxLength={4000}
              rows={2}
              placeholder="Why? Anything the next person should know."
              onChange={(e) => setState({ ...state, note: e.target.value })}
            />
          </label>
          {flagMode && (
            <p className="flag-mode" role="status" data-testid="flag-mode">
              {flagMode.step === "response"
                ? `Flag which response? Press ${pairwise ? "A or B" : `1–${task.completions.length}`} (Esc to cancel).`
                : `Flag response ${labelOf(positionOf.get(flagMode.completionId)!, pairwise)} as: ${FLAGS.map((f) => `${f.key} ${f.label}`).join(" · ")}`}
            </p>
          )}
          {warning && (
            <p className="form-warning" role="alert" data-testid="warning">
              {warning}
            </p>
          )}
          {submit.isPending && submit.failureCount > 0 && (
            <p className="form-warning" role="status" data-testid="retrying">
              {`Not confirmed yet: the server did not answer. Sending it again (attempt ${submit.failureCount + 1}); it will be stored once.`}
            </p>
          )}
          {submit.error && (
            <p className="form-error" role="alert">
              {unconfirmed(submit.error)
                ? "Not saved: the server did not answer. Press Enter to retry (it will be stored once)."
                : submit.error.message}
            </p>
          )}
          <div className="actions">
            <button
              type="button"
              className="button button--primary"
              onClick={() => send("answer")}
              disabled={submit.isPending}
            >
              {editing ? "Save the change" : "Submit"} <Kbd>Enter</Kbd>
            </button>
            {!editing && (
              <button
                type="button"
                className="button"
                onClick={() => send("skip")}
                disabled={submit.isPending}
              >
                Skip <Kbd>S</Kbd>
              </button>
            )}
            <button type="button" className="button" onClick={() => setFlagMode({ step: "response" })}>
              Flag a response <Kbd>F</Kbd>
            </button>
          </div>
        </section>
      </div>
      {side}
    </div>
  );
}

function isWinner(choice: PairChoice | null, position: number): boolean {
  return (choice === "a" && position === 0) || (choice === "b" && position === 1) || choice === "tie";
}

function answerFrom(answer: RouterOutputs["labeling"]["own"]["answer"], display: string[]): AnswerState {
  const base = {
    ...initialAnswer(display),
    flags: answer.flags as Record<string, ResponseFlag[]>,
    note: answer.note ?? "",
    strength: answer.strength,
  };
  if (display.length === 2) {
    if (answer.allBad) return { ...base, choice: "bad" };
    if (!answer.ranking) return base;
    if (answer.ranking.length === 1) return { ...base, choice: "tie" };
    return { ...base, choice: answer.ranking[0]![0] === display[0] ? "a" : "b" };
  }
  if (!answer.ranking) return { ...base, allBad: answer.allBad };
  const order = answer.ranking.flat();
  const tied = answer.ranking.flatMap((group) => group.slice(1));
  return { ...base, order, tied, touched: true };
}

function Choice({
  active,
  keyHint,
  onClick,
  disabled,
  children,
}: {
  active: boolean;
  keyHint: string;
  onClick: () => void;
  disabled?: boolean;
  children: ReactNode;
}) {
  return (
    <button
      type="button"
      aria-pressed={active}
      className={`choice${active ? " choice--on" : ""}`}
      onClick={onClick}
      disabled={disabled}
    >
      <Kbd>{keyHint}</Kbd> {children}
    </button>
  );
}

function FlagChips({ flags, onToggle }: { flags: ResponseFlag[]; onToggle: (flag: ResponseFlag) => void }) {
  return (
    <div className="flags">
      {FLAGS.map((f) => (
        <button
          key={f.flag}
          type="button"
          className={`chip chip--flag${flags.includes(f.flag) ? " chip--on" : ""}`}
          aria-pressed={flags.includes(f.flag)}
          title={`F, then the response, then ${f.key}`}
          onClick={() => onToggle(f.flag)}
        >
          {f.label}
        </button>
      ))}
    </div>
  );
}

function SortableResponse({
  id,
  rank,
  tied,
  label,
  selected,
  onSelect,
  onMove,
  first,
  last,
  flags,
  children,
}: {
  id: string;
  rank: number;
  tied: boolean;
  label: string;
  selected: boolean;
  onSelect: () => void;
  onMove: (step: -1 | 1) => void;
  first: boolean;
  last: boolean;
  flags: ReactNode;
  children: ReactNode;
}) {
  const { attributes, listeners, setNodeRef, transform, transition, isDragging } = useSortable({ id });
  return (
    <li
      ref={setNodeRef}
      style={{
        transform: transform ? `translate3d(${transform.x}px, ${transform.y}px, 0)` : undefined,
        transition,
        zIndex: isDragging ? 2 : undefined,
      }}
      className={`rank-item${selected ? " rank-item--selected" : ""}${tied ? " rank-item--tied" : ""}`}
      data-testid={`rank-item-${label}`}
      aria-current={selected ? "true" : undefined}
      onClick={onSelect}
      onKeyDown={undefined}
    >
      <div className="rank-item__handle" {...attributes} {...listeners} tabIndex={-1} title="Drag to move">
        <span className="rank-item__rank num">{tied ? "=" : rank}</span>
        <span className="rank-item__label">
          <Kbd>{label}</Kbd>
        </span>
        <span className="rank-item__grip" aria-hidden>
          ⋮⋮
        </span>
      </div>
      <div className="rank-item__body">
        <div className="scroll-box scroll-box--small">{children}</div>
        {flags}
      </div>
      <div className="rank-item__moves">
        <button
          type="button"
          className="rank-item__move"
          aria-label={`Move ${label} up`}
          title="Move up (Shift+↑)"
          disabled={first}
          onClick={(event) => {
            event.stopPropagation();
            onMove(-1);
          }}
        >
          ▲
        </button>
        <button
          type="button"
          className="rank-item__move"
          aria-label={`Move ${label} down`}
          title="Move down (Shift+↓)"
          disabled={last}
          onClick={(event) => {
            event.stopPropagation();
            onMove(1);
          }}
        >
          ▼
        </button>
      </div>
    </li>
  );
}

function UndoBar({
  lastSubmitted,
  pairwise,
  now,
  onUndo,
}: {
  lastSubmitted: { sources: Sources; at: number };
  pairwise: boolean;
  now: number;
  onUndo: () => void;
}) {
  const left = Math.min(UNDO_MS / 1000, Math.max(0, Math.ceil((UNDO_MS - (now - lastSubmitted.at)) / 1000)));
  return (
    <div className="undo-bar" role="status" data-testid="undo-bar">
      <span>
        Saved. Written by:{" "}
        {lastSubmitted.sources.map((s, i) => (
          <span key={s.completionId}>
            {i > 0 && ", "}
            {labelOf(s.position, pairwise)} = <strong>{s.source}</strong>
          </span>
        ))}
      </span>
      <button type="button" className="button button--ghost" onClick={onUndo}>
        Undo <Kbd>U</Kbd> <span className="muted num">{left} s</span>
      </button>
    </div>
  );
}

function ProgressCard({ progress }: { progress: RouterOutputs["labeling"]["progress"] | undefined }) {
  return (
    <section className="card" aria-labelledby="progress-heading" data-testid="progress">
      <div className="card__head">
        <h2 id="progress-heading">Your progress</h2>
      </div>
      <dl className="counts">
        <div className="counts__item">
          <dt>done today</dt>
          <dd className="num" data-testid="done-today">
            {progress?.doneToday ?? "–"}
          </dd>
        </div>
        <div className="counts__item">
          <dt>total here</dt>
          <dd className="num" data-testid="total">
            {progress?.total ?? "–"}
          </dd>
        </div>
        <div className="counts__item">
          <dt>left for you</dt>
          <dd className="num" data-testid="queue-left">
            {progress?.queueLeft ?? "–"}
          </dd>
        </div>
        <div className="counts__item">
          <dt>today, all datasets</dt>
          <dd className="num">{progress?.doneTodayAll ?? "–"}</dd>
        </div>
      </dl>
    </section>
  );
}

function KeysCard({ pairwise }: { pairwise: boolean }) {
  const rows: [string, string][] = pairwise
    ? [
        ["1 / ←", "A is better"],
        ["2 / →", "B is better"],
        ["T", "Tie"],
        ["B", "Both bad"],
        ["M", "Strength: slightly / much"],
      ]
    : [
        ["1–9", "Select a response"],
        ["↑ ↓", "Select the one above / below"],
        ["Shift ↑↓", "Move it up / down"],
        ["T", "Tie it with the one above"],
        ["B", "None is acceptable"],
      ];
  rows.push(
    ["F", "Flag a response"],
    ["N", "Write a note (Esc leaves)"],
    ["Enter", "Submit"],
    ["S", "Skip"],
    ["U", "Undo the last answer (60 s)"],
  );
  return (
    <section className="card" aria-labelledby="keys-heading">
      <div className="card__head">
        <h2 id="keys-heading">Keys</h2>
      </div>
      <dl className="keys">
        {rows.map(([key, what]) => (
          <div key={key} className="keys__row">
            <dt>
              <Kbd>{key}</Kbd>
            </dt>
            <dd>{what}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
