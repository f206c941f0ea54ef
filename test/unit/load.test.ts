import { describe, expect, it } from 'vitest';
import { sleep } from '../../lab/infra/ports.ts';
import { errorKind, kindsLine, startLoad } from '../../lab/workloads/load.ts';

describe('closed-loop load', () => {
  it('names a failure by the Redis error code, else by the client message up to its first period', () => {
    expect(errorKind(new Error("CROSSSLOT Keys in request don't hash to the same slot"))).toBe('CROSSSLOT');
    expect(errorKind(new Error('NOREPLICAS Not enough good replicas to write.'))).toBe('NOREPLICAS');
    expect(errorKind(new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'))).toBe('Too many Cluster redirections');
    expect(errorKind(new Error('Connection is closed.'))).toBe('Connection is closed');
    expect(errorKind('x')).toBe('x');
  });

  it('keeps every outcome: acknowledged indexes, failures by kind and when, until stopped', async () => {
    const load = startLoad(async (i) => {
      await sleep(1);
      if (i % 3 === 0) throw new Error(i % 2 ? 'MOVED 1 127.0.0.1:1' : 'Connection is closed.');
    }, { concurrency: 3 });
    await sleep(50);
    const result = await load.stop();
    expect(result.ok + result.failed).toBe(load.started());
    expect(result.acknowledged.every((i) => i % 3 !== 0)).toBe(true);
    expect(result.acknowledged).toHaveLength(result.ok);
    expect(Object.values(result.byKind).reduce((a, b) => a + b, 0)).toBe(result.failed);
    expect(Object.keys(result.byKind).sort()).toEqual(['Connection is closed', 'MOVED']);
    expect(result.firstFailureAt).toBeLessThanOrEqual(result.lastFailureAt!);
    expect(kindsLine({ A: 1, B: 2 })).toBe('A 1, B 2');
    expect(kindsLine({})).toBe('none');
  });
});
