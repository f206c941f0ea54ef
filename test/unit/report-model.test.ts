import { describe, expect, it } from 'vitest';
import { esc, formatDuration, formatValue, observedText, plural, relativeHref } from '../../lab/report/format.ts';
import { reportModel } from '../../lab/report/model.ts';
import { renderReport } from '../../lab/report/render.ts';
import type { ArmResult, ExpectationResult } from '../../lab/report/results.ts';
import { sampleMeta, sampleResults, sampleTests } from '../../lab/report/sample.ts';

const row = (e: Partial<ExpectationResult>): ExpectationResult => ({ name: 'lost', kind: 'always', expected: 'lost = 0', observed: 0, holds: true, ...e });

describe('observedText: an expectation row says which cases its value covers', () => {
  it('a plain arm: the value of its one case', () => {
    expect(observedText(row({ observed: 1200 }))).toBe('1,200');
    expect(observedText(row({ observed: undefined, holds: false }))).toBe('—');
  });

  it('an "always" row of generated cases: the range over every case when it held in all', () => {
    expect(observedText(row({ observed: 0, over: { cases: 10, held: 10, min: 0, max: 0 } }))).toBe('0 in every case of 10');
    expect(observedText(row({ expected: 'crashes = scheduled', observed: 2, over: { cases: 10, held: 10, min: 1, max: 3 } }))).toBe('1–3 in every case of 10');
  });

  it('an "always" row that broke: the first case that broke it, then the range and how many held', () => {
    expect(observedText(row({ observed: 3, holds: false, over: { cases: 5, held: 3, min: 0, max: 4, failingCase: 2 } })))
      .toBe('3 in case #2 (the first that broke it); 0–4 over 5 cases, held in 3');
  });

  it('a "sometimes" row: in how many cases it held, the range per case and the total — never passed off as one case', () => {
    expect(observedText(row({ kind: 'sometimes', expected: 'crashes ≥ 1', observed: 5, over: { cases: 4, held: 3, min: 0, max: 2 } })))
      .toBe('held in 3 of 4 cases (0–2 per case, 5 in total)');
    expect(observedText(row({ kind: 'sometimes', expected: 'crashes ≥ 1', observed: 0, holds: false, over: { cases: 1, held: 0, min: 0, max: 0 } })))
      .toBe('held in 0 of 1 case (0 per case, 0 in total)');
  });

  it('a generated arm whose cases all threw before returning numbers', () => {
    expect(observedText(row({ observed: undefined, holds: false, over: { cases: 0, held: 0 } }))).toBe('no case finished');
  });
});

describe('formatting helpers', () => {
  it('writes numbers, durations, plurals, links and escapes', () => {
    expect([formatValue(0.12345), formatValue(12.345), formatValue(1234.5), formatValue('x')]).toEqual(['0.123', '12.3', '1,235', 'x']);
    expect([formatDuration(450), formatDuration(4500), formatDuration(161_400)]).toEqual(['450 ms', '4.5 s', '2 min 41 s']);
    expect([plural(1, 'arm'), plural(2, 'arm')]).toEqual(['1 arm', '2 arms']);
    expect(relativeHref('../histories//a b.jsonl')).toBe('histories/a%20b.jsonl');
    expect(esc(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

describe('reportModel', () => {
  const model = reportModel(sampleResults(), sampleMeta(), sampleTests());

  it('groups arms by experiment in id order, with the question the experiment declared', () => {
    expect(model.experiments.map((e) => [e.id, e.arms.length])).toEqual([['E-002', 2], ['E-003', 1], ['E-010', 1]]);
    expect(model.experiments[0]!.question).toMatch(/^A service that commits to MySQL/);
    // Suites not on the kit record no question and no named expectations: shown with what they have.
    expect(model.experiments[1]!.question).toBeUndefined();
    expect(model.experiments[1]!.arms[0]!.expectations).toEqual([]);
  });

  it('turns each named expectation into a row, the replay only for an arm that did not hold', () => {
    const [direct, outbox] = model.experiments[0]!.arms;
    expect(direct!.expectations.map((e) => [e.name, e.kind, e.observed, e.holds])).toEqual([['lost', 'always', '3', true], ['crashes', 'sometimes', '3', true]]);
    expect(outbox!.expectations[0]).toEqual({ name: 'lost', kind: 'always', expected: 'lost = 0', observed: '2 in case #3 (the first that broke it); 0–2 over 4 cases, held in 3', holds: false });
    expect(direct!.replay).toBeUndefined();
  });

  it('says how the run went', () => {
    expect(model.status).toEqual({ healthy: false, text: '3 of 4 arms as expected · tests: 6 passed, 1 failed' });
    expect(model.tests.failed).toHaveLength(1);
    expect(model.arms.map((a) => a.anchor)).toEqual(['arm-e-002-direct', 'arm-e-002-outbox', 'arm-e-003-retry-topic', 'arm-e-010-acks-1']);
  });

  it('orders arms within an experiment as they were recorded, not as their result files sort', () => {
    const arm = (name: string, recordedAt?: string): ArmResult => ({ experiment: 'E-004', title: 't', arm: name, expected: '', observed: '', holds: true, numbers: {}, ...(recordedAt ? { recordedAt } : {}) });
    const files = [arm('✅ commit after', '2026-12-02T14:23:17.000Z'), arm('❌ commit before', '2026-12-02T14:22:24.000Z'), { ...arm('❌ x'), experiment: 'E-003' }];
    expect(reportModel(files, sampleMeta()).arms.map((a) => a.result.arm)).toEqual(['❌ x', '❌ commit before', '✅ commit after']);
  });

  it('gives two arms of the same name distinct anchors', () => {
    const arm: ArmResult = { experiment: 'E-1', title: 't', arm: '✅ a', expected: '', observed: '', holds: true, numbers: {} };
    expect(reportModel([arm, { ...arm }], sampleMeta()).arms.map((a) => a.anchor)).toEqual(['arm-e-1-a', 'arm-e-1-a-2']);
  });
});

describe('the page shows the declaration and the expectations', () => {
  const html = renderReport(sampleResults(), sampleMeta(), sampleTests());
  const section = (id: string) => html.slice(html.indexOf(`<h2>${id}`), html.indexOf('</section>', html.indexOf(`<h2>${id}`)));

  it('puts the experiment’s question above its arms', () => {
    const e002 = section('E-002');
    expect(e002).toMatch(/^<h2>E-002 — [^<]+<\/h2>\n<dl class="declaration"><dt>question<\/dt><dd>A service that commits to MySQL and then produces to Kafka \(&quot;dual write&quot;\)/);
    expect(e002.indexOf('class="declaration"')).toBeLessThan(e002.indexOf('<article'));
    expect(section('E-003')).not.toContain('class="declaration"');
  });

  it('renders each arm’s expectations: expected / observed / holds, "sometimes" ones marked', () => {
    const e002 = section('E-002');
    const table = e002.slice(e002.indexOf('<table class="expectations">'), e002.indexOf('</table>', e002.indexOf('<table class="expectations">')));
    expect(table).toContain('<th>expectation</th><th>kind</th><th>expected</th><th>observed</th><th>holds</th>');
    expect(table).toContain('<td>lost</td><td class="nowrap"><span class="kind">always</span></td><td>lost = crashes</td><td class="text">3</td><td class="nowrap">✓</td>');
    expect(table).toContain('<span class="kind sometimes">sometimes</span></td><td>crashes ≥ 1</td>');
    expect(e002).toContain('<tr class="not-holding"><td>lost</td>');
    expect(e002).toContain('held in 3 of 4 cases (0–2 per case, 5 in total)');
    expect(section('E-010')).not.toContain('class="expectations"');
  });
});
