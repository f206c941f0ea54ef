/**
 * A closed-loop load: `concurrency` workers each run `op(i)` (i = 0, 1, 2 … across workers) back to back
 * until stopped, and the outcome of every operation is kept — acknowledged indexes, failures by kind,
 * when failures were seen. For faults that land on a client mid-traffic (a Redis master SIGKILLed, a
 * slot migrating): what the client saw, next to what an outside observer finds afterwards.
 *
 *   const load = startLoad((i) => cluster.set(`k:${i}`, String(i)), { concurrency: 8 });
 *   …fault…
 *   const seen = await load.stop();   // { ok, failed, byKind: { 'Too many Cluster redirections': 3 }, acknowledged, … }
 */
import { sleep } from '../infra/ports.ts';

export interface LoadResult {
  ok: number;
  failed: number;
  /** Failures by `errorKind`. */
  byKind: Record<string, number>;
  /** Indexes whose op resolved. */
  acknowledged: number[];
  /** The longest an op that resolved took (ms): a retry budget holding an op across an outage shows here. */
  slowestOkMs: number;
  /** Epoch ms of the first and last failure (absent without failures). */
  firstFailureAt?: number;
  lastFailureAt?: number;
}

/**
 * What kind of failure an error is: a Redis error reply's code (`CROSSSLOT`, `MOVED`, `NOREPLICAS`,
 * `CLUSTERDOWN` …, the upper-case first word), else the client's message up to its first period or
 * colon (`Too many Cluster redirections`, `Connection is closed`).
 */
export function errorKind(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = /^([A-Z][A-Z_]{2,})\b/.exec(message)?.[1];
  if (code) return code;
  return message.split(/[.:]/)[0]!.trim().slice(0, 80) || 'unknown';
}

export function startLoad(op: (i: number) => Promise<unknown>, options: { concurrency?: number; pauseMs?: number } = {}) {
  const { concurrency = 4, pauseMs = 0 } = options;
  const result: LoadResult = { ok: 0, failed: 0, byKind: {}, acknowledged: [], slowestOkMs: 0 };
  let [next, running] = [0, true];
  const worker = async () => {
    while (running) {
      const [i, started] = [next++, Date.now()];
      try {
        await op(i);
        result.slowestOkMs = Math.max(result.slowestOkMs, Date.now() - started);
        result.ok += 1;
        result.acknowledged.push(i);
      } catch (error) {
        const kind = errorKind(error);
        result.failed += 1;
        result.byKind[kind] = (result.byKind[kind] ?? 0) + 1;
        result.lastFailureAt = Date.now();
        result.firstFailureAt ??= result.lastFailureAt;
      }
      // Never a bare microtask loop: an op that settles at once (a closed client rejecting, a local cache
      // hit) would otherwise starve every timer — the case's deadline and stop() among them.
      await (pauseMs > 0 ? sleep(pauseMs) : new Promise((resolve) => setImmediate(resolve)));
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    /** Operations started so far. */
    started: () => next,
    current: () => result,
    /** Stops starting operations and waits for those in flight. */
    stop: async (): Promise<LoadResult> => {
      running = false;
      await Promise.all(workers);
      return result;
    },
  };
}

/** `byKind` as one line: `Too many Cluster redirections 12, CLUSTERDOWN 3` (or `none`). */
export const kindsLine = (byKind: Record<string, number>) => Object.entries(byKind).map(([kind, n]) => `${kind} ${n}`).join(', ') || 'none';
