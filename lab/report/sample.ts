/**
 * A hand-made run (no cluster) to look at the report's layout and to test the renderer: arms that hold
 * and one that does not, an outage (missing buckets) under a fault window, an open fault, an extra
 * series, an arm without timeline, and hostile text that must come out escaped.
 *
 *   npx tsx lab/report/sample.ts /tmp/sample-report      # writes report.json, report.html, histories/
 *   npx tsx lab/report/screenshot.ts /tmp/sample-report/report.html /tmp/sample-report/report.png
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReportMeta, TestOutcome } from './model.ts';
import { writeReport } from './render.ts';
import type { ArmResult, TimelinePoint } from './results.ts';

/** Deterministic noise (no Math.random: the sample must look the same every time). */
function noise(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function timeline(seconds: number, seed: number, shape: (t: number) => { rate: number; p50: number; p99: number } | undefined, extra?: (t: number) => Record<string, number>): TimelinePoint[] {
  const rnd = noise(seed);
  const points: TimelinePoint[] = [];
  for (let s = 0; s < seconds; s++) {
    const base = shape(s);
    if (!base) continue; // no operation completed in this second
    const jitter = 0.9 + rnd() * 0.2;
    points.push({
      t: s * 1000,
      throughput: Math.round(base.rate * jitter),
      latencyP50: Math.round(base.p50 * jitter * 10) / 10,
      latencyP99: Math.round(base.p99 * (0.85 + rnd() * 0.3) * 10) / 10,
      ...(extra ? extra(s) : {}),
    });
  }
  return points;
}

export function sampleResults(): ArmResult[] {
  return [
    {
      experiment: 'E-002',
      title: 'Dual write loses events when the service crashes between commit and publish',
      question: 'A service that commits to MySQL and then produces to Kafka ("dual write") — what happens when it dies between the two? And does the transactional outbox close the gap?',
      arm: '❌ direct',
      expected: 'lost > 0, lost = crashes',
      observed: 'lost 3 = crashes 3 (3 of 1,200 deposits committed in MySQL, never published)',
      holds: true,
      numbers: { deposits: 1200, lost: 3, crashes: 3, 'throughput ops/s': 61.4, 'p99 ms': 38.2 },
      expectations: [
        { name: 'lost', kind: 'always', expected: 'lost = crashes', observed: 3, holds: true },
        { name: 'crashes', kind: 'sometimes', expected: 'crashes ≥ 1', observed: 3, holds: true },
      ],
      timeline: timeline(20, 1, (s) => (s >= 6 && s < 9 ? undefined : { rate: s === 9 ? 30 : 62, p50: 9, p99: s === 9 ? 140 : 32 })),
      faults: [
        { fault: 'kill', target: 'wallet-api-1', start: 6000, end: 6010 },
        { fault: 'restart', target: 'wallet-api-1', start: 6010, end: 9050 },
      ],
      historyFile: 'histories/e-002-direct.jsonl',
      seed: 42,
      recordedAt: '2025-11-23T22:41:07.118Z',
    },
    {
      experiment: 'E-002',
      title: 'Dual write loses events when the service crashes between commit and publish',
      arm: '✅ outbox',
      expected: 'lost = 0, duplicates absorbed by the consumer',
      observed: 'lost 2 <script>alert("xss")</script> & relay stuck on "offset 17"',
      holds: false,
      numbers: { deposits: 1200, lost: 2, duplicates: 14, 'relay lag max ms': 2140, 'throughput ops/s': 58.9 },
      // A generated arm: which case a row's value comes from, and over how many cases it was judged.
      expectations: [
        { name: 'lost', kind: 'always', expected: 'lost = 0', observed: 2, holds: false, over: { cases: 4, held: 3, min: 0, max: 2, failingCase: 3 } },
        { name: 'phantom', kind: 'always', expected: 'phantom = 0', observed: 0, holds: true, over: { cases: 4, held: 4, min: 0, max: 0 } },
        { name: 'crashes', kind: 'sometimes', expected: 'crashes ≥ 1', observed: 5, holds: true, over: { cases: 4, held: 3, min: 0, max: 2 } },
      ],
      timeline: timeline(22, 2, (s) => ({ rate: s >= 7 && s < 12 ? 35 : 59, p50: s >= 7 && s < 12 ? 24 : 11, p99: s >= 7 && s < 12 ? 310 : 41 })),
      faults: [{ fault: 'latency 300ms', target: 'mysql', start: 7000, end: 12000 }],
      historyFile: 'histories/e-002-outbox.jsonl',
      seed: 42,
      recordedAt: '2025-11-23T22:41:39.502Z',
    },
    {
      experiment: 'E-010',
      title: 'acks=1 loses acknowledged writes when the leader dies',
      arm: '❌ acks=1',
      expected: 'acknowledged but lost > 0',
      observed: 'acknowledged but lost 118',
      holds: true,
      numbers: { acknowledged: 5000, lost: 118, 'unclean leader elections': 0 },
    },
    {
      experiment: 'E-003',
      title: 'Retry topic with backoff keeps the main topic flowing during a poison-message storm',
      arm: '✅ retry topic',
      expected: 'main-topic throughput stays within 80% of baseline; every message eventually processed or in the DLQ',
      observed: 'throughput 91% of baseline; processed 9,874 + DLQ 126 = 10,000',
      holds: true,
      numbers: { messages: 10000, processed: 9874, dlq: 126, 'baseline ops/s': 412, 'during storm ops/s': 375 },
      timeline: timeline(30, 3, (s) => ({ rate: s >= 10 ? 375 : 412, p50: 4, p99: s >= 10 ? 19 : 12 }), (s) => ({ consumerLag: s < 10 ? 20 + s : Math.max(0, 240 - (s - 10) * 9) })),
      faults: [{ fault: 'poison messages', target: 'payments.v1', start: 10000 }],
      historyFile: 'histories/e-003-retry-topic.jsonl',
    },
  ];
}

export function sampleMeta(): ReportMeta {
  return {
    runId: '2025-11-23T22-40-31Z',
    startedAt: '2025-11-23T22:40:31.000Z',
    finishedAt: '2025-11-23T22:43:12.400Z',
    provider: 'local',
    vitest: { passed: 6, failed: 1, skipped: 0, durationMs: 161_400, files: ['lab/e-002-dual-write.test.ts', 'lab/e-003-retry-topic.test.ts', 'lab/e-010-acks.test.ts'], reason: 'failed' },
  };
}

export function sampleTests(): TestOutcome[] {
  return [
    { file: 'lab/e-002-dual-write.test.ts', name: 'E-002 > ❌ direct: a crash between commit and publish loses the event', state: 'passed', durationMs: 31_200 },
    { file: 'lab/e-002-dual-write.test.ts', name: 'E-002 > ✅ outbox: no event is lost', state: 'failed', durationMs: 33_900, errors: ['AssertionError: expected 2 to be +0 // Object.is equality\n- Expected: 0\n+ Received: 2'] },
    { file: 'lab/e-003-retry-topic.test.ts', name: 'E-003 > ✅ retry topic keeps the main topic flowing', state: 'passed', durationMs: 44_010 },
    { file: 'lab/e-010-acks.test.ts', name: 'E-010 > ❌ acks=1 loses acknowledged writes', state: 'passed', durationMs: 21_530 },
  ];
}

/** Writes the sample run (report and two small histories) into `dir`. */
export function writeSampleReport(dir: string): { json: string; html: string } {
  const results = sampleResults();
  const histories = path.join(dir, 'histories');
  fs.mkdirSync(histories, { recursive: true });
  for (const result of results) {
    if (!result.historyFile) continue;
    const lines = [
      { kind: 'op', index: 0, time: 0.4, process: 'client-1', type: 'invoke', f: 'deposit', value: { accountId: 'a-1', amount: 500 } },
      { kind: 'op', index: 1, time: 9.8, process: 'client-1', type: 'ok', f: 'deposit', value: { eventIds: ['e-1'] } },
    ];
    fs.writeFileSync(path.join(dir, result.historyFile), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  }
  return writeReport(dir, { meta: sampleMeta(), tests: sampleTests(), results });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = path.resolve(process.argv[2] ?? 'reports/sample');
  const { html } = writeSampleReport(dir);
  console.log(html);
}
