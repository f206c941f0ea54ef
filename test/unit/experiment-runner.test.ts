import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crashAt, crashSchedule, failpointSpec } from '../../lab/generators/faults.ts';
import { History } from '../../lab/history/history.ts';
import { waitFor } from '../../lab/infra/ports.ts';
import type { ServiceProcess } from '../../lab/infra/services.ts';
import { above, atLeast, atMost, equals, evaluate, type Expectation } from '../../lab/kit/expectations.ts';
import { combine, p } from '../../lab/kit/combine.ts';
import { replayCommand, runArm, type ArmSink, type ExperimentSpec } from '../../lab/kit/experiment.ts';
import { Lives } from '../../lab/kit/lives.ts';
import type { ArmResult } from '../../lab/report/results.ts';
import { percentile } from '../../lab/util/statistics.ts';
import { parseFailpointList } from '../../src/failpoints/failpoints.ts';

/** Fake arenas: count how many are alive at once and which were disposed. */
function fakeExperiment() {
  const state = { alive: 0, maxAlive: 0, created: [] as string[], disposed: [] as string[] };
  const spec: ExperimentSpec<AsyncDisposable & { label: string }> = {
    id: 'E-999',
    title: 'Fake',
    question: 'Does the runner record what it should?',
    suite: 'lab/e-999',
    arena: async (label) => {
      state.created.push(label);
      state.alive += 1;
      state.maxAlive = Math.max(state.maxAlive, state.alive);
      return {
        label,
        [Symbol.asyncDispose]: async () => {
          state.alive -= 1;
          state.disposed.push(label);
        },
      };
    },
  };
  return { spec, state };
}

function fakeSink() {
  const recorded: Array<ArmResult & { history?: History }> = [];
  const lines: string[] = [];
  const sink: ArmSink = { record: (r) => recorded.push(r), log: (line) => lines.push(line) };
  return { sink, recorded, lines };
}

/** An expectation that counts how often it was judged. */
function counted(inner: Expectation) {
  const calls = { n: 0 };
  const expectation: Expectation = { text: inner.text, test: (v, n) => ((calls.n += 1), inner.test(v, n)) };
  return { expectation, calls };
}

describe('experiment runner (lab/kit) on fake arms', () => {
  it('records an arm that holds, with expected, observed, numbers and its replay line', async () => {
    const { spec, state } = fakeExperiment();
    const { sink, recorded, lines } = fakeSink();
    const outcome = await runArm(spec, '❌ loses events', {
      label: 'direct',
      expect: { lost: equals('crashes'), crashes: equals(3) },
      run: async ({ history }) => {
        history.faultEnd(history.faultStart('crash', 'command'));
        return { lost: 3, crashes: 3, committed: 30 };
      },
    }, sink);
    expect(outcome.holds).toBe(true);
    expect(recorded).toHaveLength(1);
    const r = recorded[0]!;
    expect(r).toMatchObject({ experiment: 'E-999', arm: '❌ loses events', holds: true, expected: 'lost = crashes, crashes = 3', observed: 'lost 3, crashes 3', numbers: { lost: 3, crashes: 3, committed: 30 } });
    expect(r.replay).toBe("npx vitest run lab/e-999 -t '❌ loses events'");
    expect(r.history?.faultWindows()).toHaveLength(1);
    expect(lines.at(-1)).toContain('as expected');
    expect(state.created).toEqual(['direct0']);
    expect(state.disposed).toEqual(['direct0']);
  });

  it('records an arm whose expectation fails, with holds false and its replay line, and fails it', async () => {
    const { spec, state } = fakeExperiment();
    const { sink, recorded } = fakeSink();
    const run = runArm(spec, '❌ loses events', { expect: { lost: above(0) }, run: async () => ({ lost: 0 }) }, sink);
    await expect(run).rejects.toThrow(/lost > 0 ✗ \(observed 0\)[\s\S]*replay: npx vitest run lab\/e-999 -t '❌ loses events'/);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ holds: false, expected: 'lost > 0', replay: "npx vitest run lab/e-999 -t '❌ loses events'" });
    expect(recorded[0]!.observed).toContain('lost 0');
    expect(state.alive).toBe(0); // the arena of the failing case was disposed
  });

  it('records an arm whose case throws, and disposes its arena', async () => {
    const { spec, state } = fakeExperiment();
    const { sink, recorded } = fakeSink();
    const run = runArm(spec, '✅ survives', { expect: { lost: equals(0) }, run: async () => { throw new Error('timed out waiting for lag 0'); } }, sink);
    // The thrown error leads; no "observed nothing" lines for expectations no case reached.
    await expect(run).rejects.toThrow(/^E-999 ✅ survives did not hold: a case failed before it returned its numbers: Error: timed out waiting for lag 0\n\nreplay: /);
    expect(recorded[0]).toMatchObject({ holds: false, error: 'Error: timed out waiting for lag 0' });
    expect(recorded[0]!.observed).toContain('failed: Error: timed out waiting for lag 0');
    expect(state.disposed).toHaveLength(1);
    expect(state.alive).toBe(0);
  });

  it('gives up a case that overruns its budget, naming what it was still waiting for, and disposes its arena', async () => {
    const { spec, state } = fakeExperiment();
    const { sink, recorded } = fakeSink();
    const hung = () => waitFor('the deposits applied (45 events)', () => new Promise<boolean>(() => undefined), { timeoutMs: 60_000 });
    const run = runArm(spec, '✅ hangs', { caseTimeoutMs: 300, expect: { lost: equals(0) }, run: async () => (await hung(), { lost: 0 }) }, sink);
    await expect(run).rejects.toThrow(/CaseTimeoutError: case 0 did not finish within 300 ms; still waiting for the deposits applied \(45 events\) \(for 0 s\)/);
    expect(recorded[0]).toMatchObject({ holds: false });
    expect(state.disposed).toHaveLength(1);
    expect(state.alive).toBe(0);
  });

  it('judges each expectation once per case and uses that judgement for the assertion and the report', async () => {
    const { spec } = fakeExperiment();
    const { sink, recorded } = fakeSink();
    const lost = counted(equals(0));
    const fired = counted(atLeast(1));
    await runArm(spec, '✅ property', { cases: fc.integer({ min: 0, max: 5 }), runs: 3, expect: { lost: lost.expectation }, sometimes: { crashes: fired.expectation }, run: async () => ({ lost: 0, crashes: 1 }) }, sink);
    expect(lost.calls.n).toBe(3);
    expect(fired.calls.n).toBe(3);
    expect(recorded[0]!.expectations).toEqual([
      { name: 'lost', kind: 'always', expected: 'lost = 0', observed: 0, holds: true, over: { cases: 3, held: 3, min: 0, max: 0 } },
      { name: 'crashes', kind: 'sometimes', expected: 'crashes ≥ 1', observed: 3, holds: true, over: { cases: 3, held: 3, min: 1, max: 1 } },
    ]);
    expect(recorded[0]!.observed).toBe('3 cases: lost 0, crashes 3; crashes ≥ 1 in 3 of 3 cases');
    expect(recorded[0]!.numbers).toEqual({ cases: 3, lost: 0, crashes: 3 });
  });

  it('fails an arm whose "sometimes" expectation held in no case: the fault never fired', async () => {
    const { spec } = fakeExperiment();
    const { sink, recorded } = fakeSink();
    const run = runArm(spec, '✅ outbox', { cases: fc.constant(0), runs: 2, expect: { lost: equals(0) }, sometimes: { crashes: atLeast(1) }, run: async () => ({ lost: 0, crashes: 0 }) }, sink);
    await expect(run).rejects.toThrow(/crashes ≥ 1 in no case of 2: the fault never fired/);
    expect(recorded[0]).toMatchObject({ holds: false, observed: '2 cases: lost 0, crashes 0; crashes ≥ 1 in 0 of 2 cases' });
  });

  it('a "sometimes" expectation holds when one case of several fired, and says how many', async () => {
    const { spec } = fakeExperiment();
    const { sink, recorded } = fakeSink();
    await runArm(spec, '✅ p', { cases: fc.constant(0), runs: 3, sometimes: { redelivered: above(0) }, run: async ({ index }) => ({ redelivered: index === 1 ? 4 : 0 }) }, sink);
    expect(recorded[0]!.observed).toContain('redelivered > 0 in 1 of 3 cases');
  });

  it('a failing generated case: recorded with LAB_SEED and LAB_PATH in its replay line, every arena disposed, one alive at a time', async () => {
    const { spec, state } = fakeExperiment();
    const { sink, recorded } = fakeSink();
    const run = runArm(spec, '✅ relay (fast)', { cases: fc.integer({ min: 0, max: 100 }), runs: 10, expect: { lost: equals(0) }, run: async ({ input }) => ({ lost: input > 50 ? 1 : 0 }) }, sink);
    await expect(run).rejects.toThrow(/lost = 0 ✗ \(observed 1\)/);
    const r = recorded[0]!;
    expect(r.holds).toBe(false);
    expect(r.replay).toMatch(/^LAB_SEED=-?\d+ LAB_PATH="[\d:]+" npx vitest run lab\/e-999 -t '✅ relay \\\(fast\\\)'$/);
    expect(state.maxAlive).toBe(1);
    expect(state.alive).toBe(0);
    expect(state.disposed).toEqual(state.created);
  });

  it('property rows say which cases they show: an "always" row the first case that broke it and the range, a "sometimes" row how many cases held it and the total', async () => {
    const { spec } = fakeExperiment();
    const failing = fakeSink();
    const lost = [0, 2, 7];
    const crashes = [0, 1, 1];
    await expect(runArm(spec, '✅ fails in case 1', { cases: fc.constant(0), runs: 3, expect: { lost: equals(0) }, sometimes: { crashes: atLeast(1) }, run: async ({ index }) => ({ lost: lost[index]!, crashes: crashes[index]! }) }, failing.sink)).rejects.toThrow();
    // fast-check stops at the first failing case (a constant has nothing to shrink): cases #0 and #1 ran.
    expect(failing.recorded[0]!.expectations).toEqual([
      { name: 'lost', kind: 'always', expected: 'lost = 0', observed: 2, holds: false, over: { cases: 2, held: 1, min: 0, max: 2, failingCase: 1 } },
      { name: 'crashes', kind: 'sometimes', expected: 'crashes ≥ 1', observed: 1, holds: true, over: { cases: 2, held: 1, min: 0, max: 1 } },
    ]);

    const holding = fakeSink();
    await runArm(spec, '✅ holds', { cases: fc.constant(0), runs: 3, expect: { lost: equals(0), crashes: atMost(2) }, sometimes: { crashes: atLeast(2) }, run: async ({ index }) => ({ lost: 0, crashes: index }) }, holding.sink);
    expect(holding.recorded[0]!.expectations).toEqual([
      { name: 'lost', kind: 'always', expected: 'lost = 0', observed: 0, holds: true, over: { cases: 3, held: 3, min: 0, max: 0 } },
      { name: 'crashes', kind: 'always', expected: 'crashes ≤ 2', observed: 2, holds: true, over: { cases: 3, held: 3, min: 0, max: 2 } },
      { name: 'crashes', kind: 'sometimes', expected: 'crashes ≥ 2', observed: 3, holds: true, over: { cases: 3, held: 1, min: 0, max: 2 } },
    ]);
  });

  it('a plain arm’s rows show its one case, and its record carries the experiment’s question', async () => {
    const { spec } = fakeExperiment();
    const { sink, recorded } = fakeSink();
    await runArm({ ...spec, setup: 'a fake arena', fault: 'none' }, '❌ plain', { expect: { lost: above(0) }, sometimes: { crashes: atLeast(1) }, run: async () => ({ lost: 4, crashes: 1 }) }, sink);
    expect(recorded[0]).toMatchObject({ question: 'Does the runner record what it should?', setup: 'a fake arena', fault: 'none' });
    expect(recorded[0]!.expectations).toEqual([
      { name: 'lost', kind: 'always', expected: 'lost > 0', observed: 4, holds: true },
      { name: 'crashes', kind: 'sometimes', expected: 'crashes ≥ 1', observed: 1, holds: true },
    ]);
  });

  it('tables a case lays out go to the arm\u2019s record (a generated case\u2019s titled with its number) and to the log', async () => {
    const { spec } = fakeExperiment();
    const { sink, recorded, lines } = fakeSink();
    const table = { title: 'matrix', columns: ['change', 'outcome'], rows: [['add field', '❌ DLQ\n(registry ✓)']] };
    await runArm(spec, '❌ plain', { expect: { ok: equals(1) }, run: async (c) => (c.table(table), { ok: 1 }) }, sink);
    expect(recorded[0]!.tables).toEqual([table]);
    expect(lines[0]).toBe('matrix\n  change | outcome\n  add field | ❌ DLQ (registry ✓)');
    await runArm(spec, '✅ generated', { cases: fc.constant(1), runs: 2, expect: { ok: equals(1) }, run: async (c) => (c.table(table), { ok: 1 }) }, sink);
    expect(recorded[1]!.tables!.map((t) => t.title)).toEqual(['matrix (case 0)', 'matrix (case 1)']);
    await runArm(spec, '✅ none', { expect: { ok: equals(1) }, run: async () => ({ ok: 1 }) }, sink);
    expect(recorded[2]!.tables).toBeUndefined();
  });

  it('an arm may bring its own kind of arena', async () => {
    const { spec, state } = fakeExperiment();
    const { sink } = fakeSink();
    const own = { created: 0, disposed: 0 };
    await runArm(spec, '❌ own arena', {
      arena: async () => ((own.created += 1), { topic: 't', [Symbol.asyncDispose]: async () => void (own.disposed += 1) }),
      expect: { ok: equals(1) },
      run: async ({ arena }) => ({ ok: arena.topic === 't' ? 1 : 0 }),
    }, sink);
    expect(own).toEqual({ created: 1, disposed: 1 });
    expect(state.created).toEqual([]);
  });

  it('pools samples over the cases: the arm\u2019s p99 is the p99 of every case\u2019s samples, not an average or maximum of per-case p99s', async () => {
    const { spec } = fakeExperiment();
    const { sink, recorded, lines } = fakeSink();
    // 100 fast samples in each of two cases, and a slow case of 2: per-case p99s are 99, 99, 900 (mean 366, max 900).
    const fast = Array.from({ length: 100 }, (_, i) => i + 1);
    const samples = [fast, fast, [900, 900]];
    const caseP99 = counted(atMost(1000));
    await runArm(spec, '✅ latency', {
      cases: fc.constant(0), runs: 3,
      expect: { 'latency p99 ms': caseP99.expectation },
      combine: { 'latency p50 ms': p(50), 'latency p99 ms': p(99), slowest: 'max' },
      run: async ({ index }) => ({ events: samples[index]!.length, 'latency p50 ms': samples[index]!, 'latency p99 ms': samples[index]!, slowest: Math.max(...samples[index]!) }),
    }, sink);
    const pooled = samples.flat();
    expect(percentile(pooled, 99)).toBe(100); // the 2 slow samples of 202 are the top 1 %
    expect(recorded[0]!.numbers).toEqual({ cases: 3, events: 202, 'latency p50 ms': percentile(pooled, 50), 'latency p99 ms': 100, slowest: 900 });
    // A case's own value (for its expectations) is the statistic of its own samples.
    expect(recorded[0]!.expectations![0]).toMatchObject({ observed: 900, over: { min: 99, max: 900 } });
    expect(caseP99.calls.n).toBe(3);
    expect(lines.at(-1)).toContain('latency p99 ms 100,');
  });

  it('samples without a statistic to reduce them, or a plain number where the arm pools samples, fail the case by name', async () => {
    const { spec, state } = fakeExperiment();
    const { sink, recorded } = fakeSink();
    await expect(runArm(spec, '✅ samples', { run: async () => ({ latency: [1, 2, 3] }) }, sink)).rejects.toThrow(/latency: a case returned samples; say in the arm's combine how to reduce them/);
    await expect(runArm(spec, '✅ number', { combine: { latency: p(99) }, run: async () => ({ latency: 3 }) }, sink)).rejects.toThrow(/latency: the arm combines it with a statistic/);
    expect(recorded.map((r) => r.holds)).toEqual([false, false]);
    expect(state.alive).toBe(0);
  });

  it('combine keeps the numbers in their order, sums by default and takes a statistic of no samples as NaN', () => {
    const totals = combine([{ numbers: { a: 1, p: 5, b: 2 }, samples: { p: [] } }, { numbers: { a: 2, p: Number.NaN, b: 7 }, samples: { p: [] } }], { p: p(99), b: 'min' });
    expect(Object.keys(totals)).toEqual(['a', 'p', 'b']);
    expect(totals.a).toBe(3);
    expect(totals.b).toBe(2);
    expect(totals.p).toBeNaN();
  });

  it('a number the case did not return fails its expectation (a typo never passes)', () => {
    expect(evaluate({ lsot: equals(0) }, { lost: 0 }, 'always')[0]!.holds).toBe(false);
  });

  it('replay lines escape the arm name for -t and the shell', () => {
    expect(replayCommand('lab/e-002', "❌ direct, commit → produce (it's)")).toBe(`npx vitest run lab/e-002 -t '❌ direct, commit → produce \\(it'\\''s\\)'`);
  });
});

describe('crash schedules and lives', () => {
  it('crashSchedule draws lives at the given failpoints whose specs the services parse', () => {
    fc.assert(
      fc.property(crashSchedule(['relay.before-publish', 'relay.after-mark'], { skip: { min: 1, max: 4 }, lives: { min: 2, max: 3 } }), (schedule) => {
        expect(schedule.length).toBeGreaterThanOrEqual(2);
        for (const crash of schedule) {
          const [[name, spec]] = parseFailpointList(failpointSpec(crash)) as [[string, unknown]];
          expect(['relay.before-publish', 'relay.after-mark']).toContain(name);
          expect(spec).toMatchObject({ action: { kind: 'crash' }, skip: crash.skip });
        }
      }),
      { numRuns: 100 },
    );
  });

  it('Lives runs each armed life to its death, a fault window each, then a clean life', async () => {
    const started: Array<string | undefined> = [];
    const fake = (failpoints?: string): ServiceProcess => {
      started.push(failpoints);
      return { name: 'x', url: '', runtime: 'node 24', pid: 0, log: () => '', isRunning: () => failpoints === undefined, kill: async () => {}, stop: async () => {}, exited: async () => {}, exitStatus: () => undefined };
    };
    const history = new History('lives');
    const lives = new Lives(history, 'relay', async (fp) => fake(fp), [crashAt('relay.after-mark', 2), crashAt('relay.before-publish')]);
    const last = await lives.throughAll();
    expect(started).toEqual(['relay.after-mark=crash(skip=2)', 'relay.before-publish=crash(skip=0)', undefined]);
    expect(last.isRunning()).toBe(true);
    expect(lives.deaths).toBe(2);
    expect(history.faultWindows().map((w) => [w.fault, w.target, w.end !== undefined])).toEqual([['crash', 'relay', true], ['crash', 'relay', true]]);
  });
});
