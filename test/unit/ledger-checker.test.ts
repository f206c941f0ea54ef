import { describe, expect, it } from 'vitest';
import { anomalies, checkLedger, type LedgerObservations } from '../../lab/checkers/ledger.ts';
import { History } from '../../lab/history/history.ts';
import { Keeper } from '../../lab/kit/keeper.ts';
import type { ServiceProcess } from '../../lab/infra/services.ts';

/** Two accounts, three events, every observer consistent. */
function consistent(): LedgerObservations {
  const committed = [
    { eventId: 'e1', key: 'a', version: 1, at: 1000 },
    { eventId: 'e2', key: 'a', version: 2, at: 2000 },
    { eventId: 'e3', key: 'b', version: 1, at: 1500 },
  ];
  const state = new Map([['a', { balance: 100, version: 2 }], ['b', { balance: 0, version: 1 }]]);
  return {
    committed,
    onTopic: ['e1', 'e3', 'e2', 'e2'], // a duplicate on the topic is allowed
    applied: new Map([['e1', 1], ['e2', 1], ['e3', 1]]),
    appliedInOrder: [{ key: 'a', version: 1, eventId: 'e1' }, { key: 'b', version: 1, eventId: 'e3' }, { key: 'a', version: 2, eventId: 'e2' }],
    acknowledged: [{ id: 'e2', outcome: 'ok' }],
    notifications: new Map([['e1', 1], ['e2', 1], ['e3', 1]]),
    money: { ledger: 100, balances: 100 },
    domain: state,
    projected: new Map(state),
    cached: new Map(state),
    reads: [{ key: 'a', time: 2500, version: 1 }],
  };
}

describe('composed ledger checker', () => {
  it('finds nothing wrong in consistent observations, counts topic duplicates and measures staleness', () => {
    const { verdicts, topicDuplicates, stalenessMs } = checkLedger(consistent());
    expect(verdicts.map(anomalies)).toEqual(Array(10).fill(0));
    expect(topicDuplicates).toBe(1);
    expect(stalenessMs).toEqual([500]);
  });

  it('names each anomaly: a lost event, a double application, a stale cache', () => {
    const o = consistent();
    o.applied = new Map([['e1', 2], ['e3', 1]]);
    o.cached.set('a', { balance: 40, version: 1 });
    const byChecker = new Map(checkLedger(o).verdicts.map((v) => [v.checker, anomalies(v)]));
    expect(byChecker.get('no loss')).toBe(1);
    expect(byChecker.get('acknowledged applied')).toBe(1);
    expect(byChecker.get('applied once')).toBe(1);
    expect(byChecker.get('cache = DB')).toBe(1);
    expect(byChecker.get('every committed row on the topic')).toBe(0);
  });
});

describe('Keeper', () => {
  it('restarts a dead process and records its death as a fault window', async () => {
    const alive = new Map<string, boolean>();
    let n = 0;
    const start = async (role: string): Promise<ServiceProcess> => {
      const name = `${role}-${(n += 1)}`;
      alive.set(name, true);
      return { name, url: '', runtime: 'node 24', pid: 0, log: () => '', isRunning: () => alive.get(name)!, kill: async () => void alive.set(name, false), stop: async () => {}, exited: async () => {}, exitStatus: () => undefined };
    };
    const history = new History('keeper');
    const keeper = new Keeper(history, ['relay-1', 'consumer-1'], start);
    await keeper.startAll();
    alive.set('relay-1-1', false);
    const replacement = await keeper.alive('relay-1');
    await keeper.stopAll();
    expect(replacement.name).toBe('relay-1-3');
    expect(keeper.deaths).toBe(1);
    expect(history.faultWindows().map((w) => [w.fault, w.target, w.end !== undefined])).toEqual([['death', 'relay-1', true]]);
  });

  it('tries a failed restart again instead of leaving the role dead', async () => {
    const alive = new Map<string, boolean>();
    let n = 0;
    let failNext = 0;
    const start = async (role: string): Promise<ServiceProcess> => {
      if (failNext > 0) {
        failNext -= 1;
        throw new Error(`${role} exited during start`);
      }
      const name = `${role}-${(n += 1)}`;
      alive.set(name, true);
      return { name, url: '', runtime: 'node 24', pid: 0, log: () => '', isRunning: () => alive.get(name)!, kill: async () => void alive.set(name, false), stop: async () => {}, exited: async () => {}, exitStatus: () => undefined };
    };
    const history = new History('keeper');
    const keeper = new Keeper(history, ['consumer-1'], start);
    await keeper.startAll();
    failNext = 1;
    alive.set('consumer-1-1', false);
    const replacement = await keeper.alive('consumer-1');
    await keeper.stopAll();
    expect(replacement.name).toBe('consumer-1-2');
    expect({ deaths: keeper.deaths, failedStarts: keeper.failedStarts }).toEqual({ deaths: 1, failedStarts: 1 });
  });
});
