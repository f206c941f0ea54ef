/** Nemesis.healTarget heals one target's faults and closes their windows; heal() the rest. */
import { describe, expect, it } from 'vitest';
import { faultWindows, History } from '../../lab/history/history.ts';
import type { LabEnvironment } from '../../lab/infra/environment.ts';
import { Nemesis } from '../../lab/nemesis/nemesis.ts';

const env = { descriptor: { provider: 'external' } } as unknown as LabEnvironment;

describe('Nemesis.healTarget', () => {
  it('heals only the faults on that target, closing their windows, and leaves the others active', async () => {
    const history = new History('unit');
    const nemesis = new Nemesis(env, history);
    const healed: string[] = [];
    nemesis.record('kill', 'broker-1', async () => void healed.push('broker-1 kill'));
    nemesis.record('pause', 'broker-2', async () => void healed.push('broker-2 pause'));
    nemesis.record('latency', 'broker-1', async () => void healed.push('broker-1 latency'));

    await nemesis.healTarget('broker-1');
    expect(healed).toEqual(['broker-1 latency', 'broker-1 kill']); // most recent first
    expect(nemesis.activeFaults()).toEqual(['pause broker-2']);
    const open = faultWindows(history.records).filter((w) => w.end === undefined).map((w) => w.target);
    expect(open).toEqual(['broker-2']);

    await nemesis.heal();
    expect(healed).toEqual(['broker-1 latency', 'broker-1 kill', 'broker-2 pause']);
    expect(faultWindows(history.records).every((w) => w.end !== undefined)).toBe(true);
  });
});
