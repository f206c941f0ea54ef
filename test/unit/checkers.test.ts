import { describe, expect, it } from 'vitest';
import { History, pairOperations } from '../../lab/history/history.ts';
import { checkCache, checkConservation, checkDelivery, checkEffectsOnce, checkPerKeyOrder, checkProjection, stalenessMs, summarize } from '../../lab/checkers/index.ts';

describe('delivery checker', () => {
  it('passes when every acknowledged id is seen exactly once', () => {
    const v = checkDelivery([{ id: 'a', outcome: 'ok' }, { id: 'b', outcome: 'ok' }], ['b', 'a']);
    expect(v.valid).toBe(true);
    expect(v.counts).toMatchObject({ lost: 0, duplicated: 0, acknowledged: 2, observed: 2 });
  });

  it('flags lost, duplicated, unexpected and phantom, with examples', () => {
    const v = checkDelivery(
      [
        { id: 'ok-never-seen', outcome: 'ok' },
        { id: 'ok-twice', outcome: 'ok' },
        { id: 'failed-but-seen', outcome: 'fail' },
      ],
      ['ok-twice', 'ok-twice', 'failed-but-seen', 'never-attempted'],
    );
    expect(v.valid).toBe(false);
    expect(v.counts).toMatchObject({ lost: 1, duplicated: 1, unexpected: 1, phantom: 1 });
    expect(v.examples.lost).toEqual(['ok-never-seen']);
    expect(v.examples.duplicated).toEqual([{ id: 'ok-twice', times: 2 }]);
    expect(summarize(v)).toMatch(/^delivery: INVALID \(lost 1, duplicated 1, unexpected 1, phantom 1/);
  });

  it('never counts an unknown outcome (info) as lost, and reports it as recovered when seen', () => {
    const v = checkDelivery([{ id: 'timeout-unseen', outcome: 'info' }, { id: 'timeout-seen', outcome: 'info' }], ['timeout-seen']);
    expect(v.valid).toBe(true);
    expect(v.counts).toMatchObject({ lost: 0, recovered: 1 });
  });
});

describe('per-key order checker', () => {
  it('accepts versions that go up by one per key, interleaved across keys', () => {
    const v = checkPerKeyOrder([{ key: 'a', version: 1 }, { key: 'b', version: 1 }, { key: 'a', version: 2 }, { key: 'b', version: 2 }, { key: 'a', version: 3 }]);
    expect(v.valid).toBe(true);
  });

  it('flags reordering as nonmonotonic and gaps as skip; repeats are legal but counted', () => {
    const v = checkPerKeyOrder([
      { key: 'a', version: 1 },
      { key: 'a', version: 3 },
      { key: 'a', version: 2 },
      { key: 'b', version: 1 },
      { key: 'b', version: 1 },
    ]);
    expect(v.valid).toBe(false);
    expect(v.counts).toMatchObject({ skip: 1, nonmonotonic: 1, repeated: 1 });
    expect(v.examples.nonmonotonic).toEqual([{ key: 'a', version: 2, after: 3 }]);
  });
});

describe('state checkers', () => {
  const domain = new Map([
    ['a', { balance: 100, version: 3 }],
    ['b', { balance: 0, version: 1 }],
  ]);

  it('projection = domain: passes on equal state, flags mismatch and missing', () => {
    expect(checkProjection(domain, new Map(domain)).valid).toBe(true);
    const v = checkProjection(domain, new Map([['a', { balance: 150, version: 4 }]]));
    expect(v.valid).toBe(false);
    expect(v.counts).toMatchObject({ mismatched: 1, missing: 1 });
  });

  it('cache = DB: absent keys are fine, stale entries are not', () => {
    expect(checkCache(domain, new Map([['a', { balance: 100, version: 3 }], ['b', undefined]])).valid).toBe(true);
    const v = checkCache(domain, new Map([['a', { balance: 90, version: 2 }]]));
    expect(v.valid).toBe(false);
    expect(v.examples.stale).toEqual([{ account: 'a', cache: { balance: 90, version: 2 }, db: { balance: 100, version: 3 } }]);
  });

  it('conservation: flags any difference with its size', () => {
    expect(checkConservation(1000, 1000).valid).toBe(true);
    const v = checkConservation(1000, 1500);
    expect(v.valid).toBe(false);
    expect(v.examples.imbalance).toEqual([{ expected: 1000, actual: 1500, difference: 500 }]);
  });

  it('effects once: counts extra deliveries', () => {
    const v = checkEffectsOnce(new Map([['e1', 1], ['e2', 3]]));
    expect(v.valid).toBe(false);
    expect(v.counts).toMatchObject({ duplicated: 1, extraDeliveries: 2 });
  });

  it('staleness: time since a newer version was committed, 0 for fresh reads', () => {
    const truth = new Map([['a', [{ version: 1, time: 0 }, { version: 2, time: 100 }]]]);
    expect(stalenessMs([{ key: 'a', time: 50, version: 1 }, { key: 'a', time: 130, version: 1 }, { key: 'a', time: 140, version: 2 }], truth)).toEqual([0, 30, 0]);
  });
});

describe('history', () => {
  it('pairs invokes with completions per process and keeps fault windows', () => {
    const history = new History('test');
    const a = history.invoke('c1', 'deposit', { amount: 5 });
    const b = history.invoke('c2', 'withdraw', { amount: 7 });
    const fault = history.faultStart('kill', 'relay-1');
    a.ok({ eventIds: ['e1'] });
    b.info('timeout');
    history.faultEnd(fault);
    const ops = history.operations();
    expect(ops.map((op) => [op.process, op.f, op.type])).toEqual([
      ['c1', 'deposit', 'ok'],
      ['c2', 'withdraw', 'info'],
    ]);
    expect(ops[1]!.error).toBe('timeout');
    expect(history.faultWindows()).toEqual([expect.objectContaining({ fault: 'kill', target: 'relay-1' })]);
    expect(history.faultWindows()[0]!.end).toBeGreaterThanOrEqual(history.faultWindows()[0]!.start);
    expect(() => a.ok()).toThrow(/completed twice/);
  });

  it('rejects a history where one process runs two operations at once', () => {
    expect(() =>
      pairOperations([
        { kind: 'op', index: 0, time: 0, process: 'c1', type: 'invoke', f: 'x', value: 1 },
        { kind: 'op', index: 1, time: 1, process: 'c1', type: 'invoke', f: 'y', value: 2 },
      ]),
    ).toThrow(/while another operation was in flight/);
  });

  it('round-trips through JSON lines', () => {
    const history = new History('test');
    history.invoke('c1', 'open', { accountId: 'a' }).fail('conflict');
    const parsed = history.toJsonLines().trim().split('\n').map((line) => JSON.parse(line));
    expect(pairOperations(parsed)).toEqual(history.operations());
  });
});
