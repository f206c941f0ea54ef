/**
 * Failpoints: named places in the services where an experiment can inject a failure.
 *
 *   LAB_FAILPOINTS='relay.after-publish-before-mark=crash(skip=2,count=1);consumer.apply=error(p=0.1)'
 *   failpoints.set('consumer.apply', 'error(count=3)')        // or at run time, in process
 *   PUT /failpoints/consumer.apply  body: error(count=3)      // or over each service's HTTP API
 *
 * Actions: off | error[(message)] | sleep(ms) | crash (SIGKILL of this process). Options: count (fire at
 * most N times), skip (let the first N hits pass), p (probability per hit, seeded by `seed`).
 * `crash` first appends a line to LAB_FAILPOINT_LOG (synchronously), so the harness can assert the crash
 * really happened ("sometimes" assertions) although the process is gone.
 *
 * Zero cost when off: `failpoint(name)` is one Map.size check while nothing is armed.
 * Hand-written: no maintained npm library offers failpoints (the Go/Rust `fail` crates' model is used).
 */
import fs from 'node:fs';
import type { FailpointName } from './names.ts';
import { failpointNames } from './names.ts';

export type FailpointAction = { kind: 'off' } | { kind: 'error'; message: string } | { kind: 'sleep'; ms: number } | { kind: 'crash' };

export interface FailpointSpec {
  action: FailpointAction;
  count?: number;
  skip?: number;
  probability?: number;
}

export class FailpointError extends Error {
  override name = 'FailpointError';
  constructor(readonly failpoint: string, message: string) {
    super(message || `failpoint ${failpoint} fired`);
  }
}

/** One armed failpoint as `GET /failpoints` reports it: how often it was reached (`hits`) and acted (`fired`). */
export interface FailpointStat {
  spec: FailpointSpec;
  hits: number;
  fired: number;
}

/** `GET /failpoints`: the armed failpoints by name (a failpoint that was never armed, or was cleared, is absent). */
export type FailpointStats = Record<string, FailpointStat>;

interface Armed {
  spec: FailpointSpec;
  hits: number;
  fired: number;
}

const known = new Set<string>(failpointNames);

/** Parses `crash`, `error(boom)`, `sleep(200)`, `crash(skip=2,count=1)`, `error(p=0.5)`. */
export function parseFailpointSpec(text: string): FailpointSpec {
  const match = /^\s*(off|error|sleep|crash)\s*(?:\((.*)\))?\s*$/.exec(text);
  if (!match) throw new Error(`invalid failpoint spec '${text}': expected off | error[(msg)] | sleep(ms) | crash, with optional (count=N,skip=N,p=0.5)`);
  const kind = match[1] as FailpointAction['kind'];
  const spec: FailpointSpec = { action: { kind: 'off' } };
  let message = '';
  let ms: number | undefined;
  for (const part of (match[2] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const [key, value] = part.includes('=') ? (part.split('=', 2) as [string, string]) : [undefined, part];
    const number = Number(value);
    if (key === 'count' || key === 'skip') {
      if (!Number.isInteger(number) || number < 0) throw new Error(`invalid failpoint spec '${text}': ${key} must be a whole number`);
      spec[key] = number;
    } else if (key === 'p') {
      if (!(number >= 0 && number <= 1)) throw new Error(`invalid failpoint spec '${text}': p must be in [0, 1]`);
      spec.probability = number;
    } else if (key === undefined && kind === 'sleep') {
      if (!Number.isFinite(number) || number < 0) throw new Error(`invalid failpoint spec '${text}': sleep needs milliseconds`);
      ms = number;
    } else if (key === undefined && kind === 'error') {
      message = value;
    } else {
      throw new Error(`invalid failpoint spec '${text}': unknown option '${part}'`);
    }
  }
  if (kind === 'sleep' && ms === undefined) throw new Error(`invalid failpoint spec '${text}': sleep needs milliseconds, e.g. sleep(200)`);
  spec.action = kind === 'error' ? { kind, message } : kind === 'sleep' ? { kind, ms: ms! } : { kind };
  return spec;
}

/** Parses LAB_FAILPOINTS: `name=spec;name=spec`. */
export function parseFailpointList(text: string): Array<[string, FailpointSpec]> {
  return text
    .split(';')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const index = entry.indexOf('=');
      if (index < 0) throw new Error(`invalid LAB_FAILPOINTS entry '${entry}': expected name=spec`);
      return [entry.slice(0, index).trim(), parseFailpointSpec(entry.slice(index + 1))];
    });
}

export class Failpoints {
  private readonly armed = new Map<string, Armed>();
  private random: () => number = Math.random;

  constructor(private readonly options: { crash?: (name: string) => never; logFile?: string } = {}) {}

  /** Deterministic probabilities for reproducible runs. */
  seed(seed: number): void {
    let state = seed >>> 0 || 1;
    this.random = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 0x1_0000_0000;
    };
  }

  set(name: FailpointName | string, spec: FailpointSpec | string): void {
    if (!known.has(name)) throw new Error(`unknown failpoint '${name}' (known: ${failpointNames.join(', ')})`);
    const parsed = typeof spec === 'string' ? parseFailpointSpec(spec) : spec;
    if (parsed.action.kind === 'off') this.armed.delete(name);
    else this.armed.set(name, { spec: parsed, hits: 0, fired: 0 });
  }

  clear(name?: string): void {
    if (name === undefined) this.armed.clear();
    else this.armed.delete(name);
  }

  /** Armed failpoints with how often they were hit and fired. */
  stats(): FailpointStats {
    return Object.fromEntries([...this.armed].map(([name, armed]) => [name, { ...armed }]));
  }

  /** Returns undefined synchronously when the point is not armed (the common, free case). */
  hit(name: FailpointName): Promise<void> | undefined {
    if (this.armed.size === 0) return undefined;
    const armed = this.armed.get(name);
    if (!armed) return undefined;
    armed.hits += 1;
    const { spec } = armed;
    if (spec.skip !== undefined && armed.hits <= spec.skip) return undefined;
    if (spec.count !== undefined && armed.fired >= spec.count) return undefined;
    if (spec.probability !== undefined && this.random() >= spec.probability) return undefined;
    armed.fired += 1;
    const action = spec.action;
    switch (action.kind) {
      case 'error':
        return Promise.reject(new FailpointError(name, action.message));
      case 'sleep':
        return new Promise((resolve) => setTimeout(resolve, action.ms));
      case 'crash':
        return this.crash(name);
      default:
        return undefined;
    }
  }

  private crash(name: string): never {
    const logFile = this.options.logFile ?? process.env.LAB_FAILPOINT_LOG;
    if (logFile) fs.appendFileSync(logFile, `${JSON.stringify({ failpoint: name, action: 'crash', pid: process.pid, at: Date.now() })}\n`);
    if (this.options.crash) return this.options.crash(name);
    process.kill(process.pid, 'SIGKILL');
    throw new Error('unreachable: SIGKILL did not stop the process');
  }
}

/** The process-wide registry, armed from LAB_FAILPOINTS at start. */
export const failpoints = new Failpoints();
if (process.env.LAB_FAILPOINTS) for (const [name, spec] of parseFailpointList(process.env.LAB_FAILPOINTS)) failpoints.set(name, spec);
if (process.env.LAB_FAILPOINT_SEED) failpoints.seed(Number(process.env.LAB_FAILPOINT_SEED));

/** `await failpoint('relay.after-publish-before-mark')` at the place where the failure matters. */
export function failpoint(name: FailpointName): Promise<void> | undefined {
  return failpoints.hit(name);
}
