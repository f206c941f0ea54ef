/**
 * The history of an experiment run, in Jepsen's terms: every client operation as an `invoke` followed
 * by its completion (`ok`, `fail`, or `info` when the outcome is unknown, e.g. a timeout), and every
 * fault as a window (start, end, target). Checkers read it; the report draws its timeline from it.
 * Stored as JSON lines (one record per line) under reports/<run>/histories/.
 *
 *   const history = new History('e-002/direct');
 *   const op = history.invoke('client-3', 'deposit', { accountId: 'a-1', amount: 500 });
 *   op.ok({ eventIds }) | op.fail('insufficient-funds') | op.info('timeout');
 *   const fault = history.faultStart('kill', 'relay-1'); … history.faultEnd(fault);
 *   history.sample('offsets p0', { HW: 12, LSO: 9 });      // an observed state, drawn as a step chart
 */
import fs from 'node:fs';
import path from 'node:path';

export type CompletionType = 'ok' | 'fail' | 'info';

export interface OperationRecord {
  kind: 'op';
  index: number;
  /** ms since the history started (monotonic clock). */
  time: number;
  process: string;
  type: 'invoke' | CompletionType;
  f: string;
  value: unknown;
  error?: string;
}

export interface FaultRecord {
  kind: 'fault';
  index: number;
  time: number;
  phase: 'start' | 'end';
  fault: string;
  target: string;
  id: number;
  detail?: unknown;
}

/**
 * What an outside observer read at one moment (offsets, ISR size): a named series of values, drawn by
 * the report as step lines over time. A value left out was not observable then (a paused broker).
 */
export interface SampleRecord {
  kind: 'sample';
  index: number;
  time: number;
  series: string;
  values: Record<string, number>;
}

export type HistoryRecord = OperationRecord | FaultRecord | SampleRecord;

/** An invoke paired with its completion (completion undefined while in flight). */
export interface CompletedOperation {
  process: string;
  f: string;
  invokeValue: unknown;
  type: CompletionType | 'pending';
  value: unknown;
  error?: string;
  start: number;
  end?: number;
}

export interface FaultWindow {
  fault: string;
  target: string;
  start: number;
  end?: number;
  detail?: unknown;
}

export interface PendingOperation {
  ok(value?: unknown): void;
  fail(error: unknown, value?: unknown): void;
  info(error: unknown, value?: unknown): void;
}

export class History {
  readonly records: HistoryRecord[] = [];
  private readonly origin = performance.now();
  readonly startedAt = Date.now();
  private faultIds = 0;

  constructor(readonly name: string) {}

  now(): number {
    return Math.round((performance.now() - this.origin) * 1000) / 1000;
  }

  private push<T extends HistoryRecord>(record: Omit<T, 'index' | 'time'>): T {
    const full = { ...record, index: this.records.length, time: this.now() } as T;
    this.records.push(full);
    return full;
  }

  invoke(process: string, f: string, value: unknown): PendingOperation {
    this.push<OperationRecord>({ kind: 'op', process, type: 'invoke', f, value });
    let done = false;
    const complete = (type: CompletionType, value: unknown, error?: unknown) => {
      if (done) throw new Error(`operation ${f} of ${process} completed twice`);
      done = true;
      this.push<OperationRecord>({ kind: 'op', process, type, f, value, ...(error !== undefined ? { error: errorText(error) } : {}) });
    };
    return {
      ok: (value?: unknown) => complete('ok', value),
      fail: (error: unknown, value?: unknown) => complete('fail', value, error),
      info: (error: unknown, value?: unknown) => complete('info', value, error),
    };
  }

  /** Runs `work` as one operation: ok with its result, fail when `isDefiniteFailure(error)`, else info. */
  async run<T>(process: string, f: string, value: unknown, work: () => Promise<T>, isDefiniteFailure: (error: unknown) => boolean = () => false): Promise<T | undefined> {
    return this.operation(process, f, value, work, (op, error) => void (isDefiniteFailure(error) ? op.fail(error) : op.info(error)));
  }

  /** Like `run`, but a failure is rethrown after it was recorded as `info` (its effect unknown). */
  async call<T>(process: string, f: string, value: unknown, work: () => Promise<T>): Promise<T> {
    return this.operation(process, f, value, work, (op, error): never => {
      op.info(error);
      throw error;
    });
  }

  /** `work` as one operation: ok with its result; `failed` records a failure and gives the answer. */
  private async operation<T, R>(process: string, f: string, value: unknown, work: () => Promise<T>, failed: (op: PendingOperation, error: unknown) => R): Promise<T | R> {
    const op = this.invoke(process, f, value);
    // new Promise: a `work` that throws before its first await is recorded like one that rejects.
    return new Promise<T>((resolve) => resolve(work())).then((result) => (op.ok(result), result), (error: unknown) => failed(op, error));
  }

  faultStart(fault: string, target: string, detail?: unknown): number {
    this.faultIds += 1;
    this.push<FaultRecord>({ kind: 'fault', phase: 'start', fault, target, id: this.faultIds, ...(detail !== undefined ? { detail } : {}) });
    return this.faultIds;
  }

  faultEnd(id: number): void {
    const start = this.records.find((r): r is FaultRecord => r.kind === 'fault' && r.id === id && r.phase === 'start');
    if (!start) throw new Error(`no fault ${id} started`);
    this.push<FaultRecord>({ kind: 'fault', phase: 'end', fault: start.fault, target: start.target, id });
  }

  /** Records what an observer read at `time` (default: now); undefined values are left out. */
  sample(series: string, values: Record<string, number | undefined>, time = this.now()): void {
    const defined = Object.fromEntries(Object.entries(values).filter((entry): entry is [string, number] => typeof entry[1] === 'number' && Number.isFinite(entry[1])));
    this.records.push({ kind: 'sample', index: this.records.length, time, series, values: defined });
  }

  /** The sampled series, each in time order: series → [{ t, values }]. */
  samples(): Map<string, Array<{ t: number; values: Record<string, number> }>> {
    const out = new Map<string, Array<{ t: number; values: Record<string, number> }>>();
    for (const record of this.records) {
      if (record.kind !== 'sample') continue;
      const points = out.get(record.series) ?? [];
      points.push({ t: record.time, values: record.values });
      out.set(record.series, points);
    }
    for (const points of out.values()) points.sort((a, b) => a.t - b.t);
    return out;
  }

  operations(): CompletedOperation[] {
    return pairOperations(this.records);
  }

  faultWindows(): FaultWindow[] {
    return faultWindows(this.records);
  }

  toJsonLines(): string {
    return this.records.map((record) => JSON.stringify(record)).join('\n') + '\n';
  }

  write(file: string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, this.toJsonLines());
  }

  static read(file: string): HistoryRecord[] {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as HistoryRecord);
  }
}

/** Pairs each invoke with the next completion of the same process (a process runs one op at a time). */
export function pairOperations(records: HistoryRecord[]): CompletedOperation[] {
  const open = new Map<string, CompletedOperation>();
  const out: CompletedOperation[] = [];
  for (const record of records) {
    if (record.kind !== 'op') continue;
    if (record.type === 'invoke') {
      if (open.has(record.process)) throw new Error(`process ${record.process} invoked ${record.f} while another operation was in flight`);
      const op: CompletedOperation = { process: record.process, f: record.f, invokeValue: record.value, type: 'pending', value: undefined, start: record.time };
      open.set(record.process, op);
      out.push(op);
    } else {
      const op = open.get(record.process);
      if (!op) throw new Error(`process ${record.process} completed ${record.f} without an invoke`);
      op.type = record.type;
      op.value = record.value;
      op.end = record.time;
      if (record.error !== undefined) op.error = record.error;
      open.delete(record.process);
    }
  }
  return out;
}

export function faultWindows(records: HistoryRecord[]): FaultWindow[] {
  const windows = new Map<number, FaultWindow>();
  for (const record of records) {
    if (record.kind !== 'fault') continue;
    if (record.phase === 'start') windows.set(record.id, { fault: record.fault, target: record.target, start: record.time, ...(record.detail !== undefined ? { detail: record.detail } : {}) });
    else {
      const window = windows.get(record.id);
      if (window) window.end = record.time;
    }
  }
  return [...windows.values()];
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
