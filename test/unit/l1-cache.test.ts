import { describe, expect, it } from 'vitest';
import { L1Cache } from '../../lab/clients/l1-cache.ts';

describe('L1 cache', () => {
  it('serves a loaded value until ttl after the load started, then loads again', async () => {
    let now = 1000;
    const l1 = new L1Cache<string>(250, () => now);
    let loads = 0;
    const load = async () => `v${++loads}`;
    expect(await l1.get('k', load)).toBe('v1');
    now = 1249;
    expect(await l1.get('k', load)).toBe('v1');
    now = 1250;
    expect(await l1.get('k', load)).toBe('v2');
    expect([l1.hits, l1.misses]).toEqual([1, 2]);
  });

  it('counts the ttl from the start of a slow load, not from its end', async () => {
    let now = 0;
    const l1 = new L1Cache<string>(100, () => now);
    await l1.get('k', async () => ((now = 80), 'slow'));
    now = 99;
    expect(await l1.get('k', async () => 'fresh')).toBe('slow');
    now = 100;
    expect(await l1.get('k', async () => 'fresh')).toBe('fresh');
  });

  it('drops an entry on invalidation and never stores a load that was in flight when it came', async () => {
    const l1 = new L1Cache<string>(10_000);
    await l1.get('k', async () => 'old');
    l1.invalidate('k');
    expect(await l1.get('k', async () => 'new')).toBe('new');
    let release!: () => void;
    const pending = l1.get('k2', () => new Promise<string>((resolve) => (release = () => resolve('read before the write'))));
    l1.invalidate('k2');
    release();
    expect(await pending).toBe('read before the write');
    expect(await l1.get('k2', async () => 'after the write')).toBe('after the write');
    expect(l1.invalidations).toBe(2);
  });
});
