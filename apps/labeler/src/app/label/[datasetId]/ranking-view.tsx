"use client";
/** A K-wise task: the responses as a list to order best first (drag, ▲ ▼ or keys), ties and "none". */

import {
  closestCenter,
  DndContext,
  type DragEndEvent,
  PointerSensor,
  useSensor,
  useSensors,
} from "@dnd-kit/core";
import { SortableContext, useSortable, verticalListSortingStrategy } from "@dnd-kit/sortable";
import { useTranslations } from "next-intl";
import type { ReactNode } from "react";
import { Kbd, Markdown } from "../../_components/markdown";
import { type AnswerState, groupsOf, labelOf, toggledAllBad, toggledTie } from "./answer";
import { Choice } from "./pair-view";
import type { Answer } from "./use-answer";
import type { Task } from "./use-task";

interface RankingViewProps {
  task: Task;
  state: AnswerState;
  answer: Answer;
  flagsOf: (id: string) => ReactNode;
}

export function RankingView({ task, state, answer, flagsOf }: RankingViewProps) {
  const t = useTranslations("Annotator");
  const { selected, setSelected, move } = answer;
  const sensors = useSensors(useSensor(PointerSensor, { activationConstraint: { distance: 5 } }));
  const onDragEnd = (event: DragEndEvent) => {
    if (!event.over) return;
    move(state.order.indexOf(String(event.active.id)), state.order.indexOf(String(event.over.id)));
  };
  const positionOf = new Map(task.completions.map((c) => [c.id, c.position]));
  const byId = new Map(task.completions.map((c) => [c.id, c]));
  return (
    <section className="card card--flush" aria-label={t("rankingLabel")}>
      <div className="card__head card__head--padded">
        <h2>{t("rankHeading")}</h2>
        <span className="muted">{t("rankHint", { count: task.completions.length })}</span>
      </div>
      <DndContext sensors={sensors} collisionDetection={closestCenter} onDragEnd={onDragEnd}>
        <SortableContext items={state.order} strategy={verticalListSortingStrategy}>
          <ol className={`ranking${state.allBad ? " ranking--bad" : ""}`} data-testid="ranking">
            {groupsOf(state.order, state.tied).flatMap((group, g) =>
              group.map((id, j) => {
                const index = state.order.indexOf(id);
                return (
                  <SortableResponse
                    key={id}
                    id={id}
                    rank={g + 1}
                    tied={j > 0}
                    label={labelOf(positionOf.get(id)!, false)}
                    selected={selected === index}
                    onSelect={() => setSelected(index)}
                    onMove={(step) => move(index, index + step)}
                    first={index === 0}
                    last={index === state.order.length - 1}
                    flags={flagsOf(id)}
                  >
                    <Markdown text={byId.get(id)!.response} />
                  </SortableResponse>
                );
              }),
            )}
          </ol>
        </SortableContext>
      </DndContext>
      <div className="choice-row choice-row--padded">
        <Choice
          active={false}
          keyHint="T"
          disabled={selected === 0}
          onClick={() => answer.setState(toggledTie(state, selected))}
        >
          {t("tieAbove")}
        </Choice>
        <Choice active={state.allBad} keyHint="B" onClick={() => answer.setState(toggledAllBad(state))}>
          {t("noneAcceptable")}
        </Choice>
      </div>
    </section>
  );
}

interface SortableResponseProps {
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
}: SortableResponseProps) {
  const t = useTranslations("Annotator");
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
      <div className="rank-item__handle" {...attributes} {...listeners} tabIndex={-1} title={t("dragToMove")}>
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
        <MoveButton
          label={t("moveUp", { label })}
          title={t("moveUpTitle")}
          disabled={first}
          onMove={() => onMove(-1)}
        >
          ▲
        </MoveButton>
        <MoveButton
          label={t("moveDown", { label })}
          title={t("moveDownTitle")}
          disabled={last}
          onMove={() => onMove(1)}
        >
          ▼
        </MoveButton>
      </div>
    </li>
  );
}

function MoveButton({
  label,
  title,
  disabled,
  onMove,
  children,
}: {
  label: string;
  title: string;
  disabled: boolean;
  onMove: () => void;
  children: string;
}) {
  return (
    <button
      type="button"
      className="rank-item__move"
      aria-label={label}
      title={title}
      disabled={disabled}
      onClick={(event) => {
        event.stopPropagation();
        onMove();
      }}
    >
      {children}
    </button>
  );
}
