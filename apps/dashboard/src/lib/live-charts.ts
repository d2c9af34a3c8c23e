/**
 * The state of a page of live charts, outside React: for each metric key, every run's bucketed series. A
 * chart loads its key once at its width in pixels (`load`); then one poll per second asks the server, in a
 * single request for every chart on the page, for the points after each series' last step, and folds them
 * into the buckets (buckets.ts). Nothing is ever refetched whole while a run writes; a series that outgrows
 * its chart merges its buckets in pairs. Zooming fetches the visible step range at full detail.
 */
import { bucketCount, type Columns, downsampleMinMax, foldPoints, type Point, toPoints } from "./buckets";

export interface SeriesAnswer {
  bucketWidth: number;
  fromStep: number;
  toStep: number;
  runs: (Columns & { runId: string })[];
}

export interface ChartFetcher {
  series(input: {
    runIds: string[];
    key: string;
    buckets: number;
    fromStep?: number;
    toStep?: number;
  }): Promise<SeriesAnswer>;
  since(input: {
    cursors: { runId: string; key: string; afterStep: number }[];
  }): Promise<(Columns & { runId: string; key: string; afterStep: number })[]>;
}

export interface ZoomState {
  fromStep: number;
  toStep: number;
  loading: boolean;
  bucketWidth: number;
  runs: Map<string, Point[]>;
}

export interface KeyState {
  status: "loading" | "ready" | "error";
  error?: string;
  bucketWidth: number;
  /** The chart's width in buckets (pixels). */
  buckets: number;
  runs: Map<string, Point[]>;
  zoom?: ZoomState;
  /** Bumped on every change: what React compares. */
  version: number;
}

type Listener = () => void;

export class LiveCharts {
  private readonly states = new Map<string, KeyState>();
  private readonly listeners = new Map<string, Set<Listener>>();
  /** Which load of a key is current: answers to an older load or poll of it are dropped. */
  private readonly generation = new Map<string, number>();
  private polling = false;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly fetcher: ChartFetcher,
    readonly runIds: string[],
  ) {}

  get(key: string): KeyState | undefined {
    return this.states.get(key);
  }

  subscribe(key: string, listener: Listener): () => void {
    const set = this.listeners.get(key) ?? new Set();
    set.add(listener);
    this.listeners.set(key, set);
    return () => set.delete(listener);
  }

  private set(key: string, next: Omit<KeyState, "version">): void {
    const version = (this.states.get(key)?.version ?? 0) + 1;
    this.states.set(key, { ...next, version });
    for (const listener of this.listeners.get(key) ?? []) listener();
  }

  /** Load a key's series at `buckets` buckets; a chart calls it on mount and when it is resized a lot. */
  async load(key: string, buckets: number): Promise<void> {
    const current = this.states.get(key);
    if (current && current.status !== "error" && current.buckets === buckets) return;
    const generation = (this.generation.get(key) ?? 0) + 1;
    this.generation.set(key, generation);
    this.set(key, {
      status: current?.status === "ready" ? "ready" : "loading",
      bucketWidth: current?.bucketWidth ?? 1,
      buckets,
      runs: current?.runs ?? new Map(),
      zoom: current?.zoom,
    });
    try {
      const answer = await this.fetcher.series({ runIds: this.runIds, key, buckets });
      if (this.generation.get(key) !== generation) return;
      this.set(key, {
        status: "ready",
        bucketWidth: answer.bucketWidth,
        buckets,
        runs: new Map(answer.runs.map((r) => [r.runId, toPoints(r)])),
        zoom: this.states.get(key)?.zoom,
      });
    } catch (error) {
      if (this.generation.get(key) !== generation) return;
      this.set(key, { ...this.states.get(key)!, status: "error", error: (error as Error).message });
    }
  }

  /** Reload every loaded key (a run restarted from a checkpoint rewrites points a cursor cannot see). */
  async reloadAll(): Promise<void> {
    await Promise.all(
      [...this.states.entries()].map(([key, state]) => {
        this.states.set(key, { ...state, buckets: -1 });
        return this.load(key, state.buckets);
      }),
    );
  }

  /** One round of the live feed: the points after every series' last step, for every loaded key. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const asked = new Map<string, number>();
      const cursors: { runId: string; key: string; afterStep: number }[] = [];
      for (const [key, state] of this.states) {
        if (state.status !== "ready") continue;
        asked.set(key, this.generation.get(key) ?? 0);
        for (const runId of this.runIds) {
          cursors.push({ runId, key, afterStep: state.runs.get(runId)?.at(-1)?.step ?? -1 });
        }
      }
      if (cursors.length === 0) return;
      const answers = await this.fetcher.since({ cursors });
      const byKey = new Map<string, typeof answers>();
      for (const answer of answers) {
        if (answer.steps.length > 0) byKey.set(answer.key, [...(byKey.get(answer.key) ?? []), answer]);
      }
      for (const [key, updates] of byKey) {
        const state = this.states.get(key);
        if (state?.status !== "ready" || this.generation.get(key) !== asked.get(key)) continue;
        this.fold(key, state, updates);
      }
    } finally {
      this.polling = false;
    }
  }

  private fold(key: string, state: KeyState, updates: (Columns & { runId: string })[]): void {
    const runs = new Map(state.runs);
    for (const update of updates)
      runs.set(update.runId, foldPoints(runs.get(update.runId) ?? [], toPoints(update), state.bucketWidth));
    // Grown past twice the chart's width: merge buckets in pairs until it fits again.
    let width = state.bucketWidth;
    const all = [...runs.values()].filter((p) => p.length > 0);
    const lo = Math.min(...all.map((p) => p[0]!.step));
    const hi = Math.max(...all.map((p) => p.at(-1)!.step));
    if (bucketCount(lo, hi, width) > 2 * state.buckets) {
      while (bucketCount(lo, hi, width) > state.buckets) width *= 2;
      for (const [runId, points] of runs) runs.set(runId, downsampleMinMax(points, width));
    }
    this.set(key, { ...state, runs, bucketWidth: width });
  }

  /** Show steps [fromStep, toStep] at full detail (fetched for that range). */
  async zoom(key: string, fromStep: number, toStep: number): Promise<void> {
    const state = this.states.get(key);
    if (!state) return;
    const lo = Math.max(0, Math.floor(fromStep));
    const hi = Math.max(lo, Math.ceil(toStep));
    const zoom: ZoomState = {
      fromStep: lo,
      toStep: hi,
      loading: true,
      bucketWidth: state.bucketWidth,
      runs: state.zoom?.runs ?? state.runs,
    };
    this.set(key, { ...state, zoom });
    try {
      const answer = await this.fetcher.series({
        runIds: this.runIds,
        key,
        buckets: state.buckets,
        fromStep: lo,
        toStep: hi,
      });
      const now = this.states.get(key)!;
      if (now.zoom?.fromStep !== lo || now.zoom.toStep !== hi) return;
      this.set(key, {
        ...now,
        zoom: {
          ...zoom,
          loading: false,
          bucketWidth: answer.bucketWidth,
          runs: new Map(answer.runs.map((r) => [r.runId, toPoints(r)])),
        },
      });
    } catch (error) {
      const now = this.states.get(key)!;
      this.set(key, { ...now, zoom: undefined, status: now.status, error: (error as Error).message });
    }
  }

  resetZoom(key: string): void {
    const state = this.states.get(key);
    if (state?.zoom) this.set(key, { ...state, zoom: undefined });
  }

  /** Poll every `intervalMs` until stop(). */
  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => {
      this.poll().catch(() => {
        // The next round tries again; the page shows the server's state through its other queries.
      });
    }, intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
