import { describe, expect, it } from 'vitest';
import { parseClusterNodes, parseInfoStats, servesSlot, slotCount } from '../../lab/observe/redis-cluster.ts';

describe('Redis Cluster observer', () => {
  it('reads roles, masters and served slot ranges from CLUSTER NODES (migration markers are not served)', () => {
    const nodes = parseClusterNodes([
      'a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460 [5461->-b2]',
      'b2 127.0.0.1:7002@17002 master - 0 0 2 connected 5461-10922 12000',
      'd4 127.0.0.1:7004@17004 slave a1 0 0 1 connected',
      'e5 127.0.0.1:7005@17005 master,fail - 0 0 3 disconnected',
    ].join('\n'));
    expect(nodes.map((n) => [n.id, n.port, n.master])).toEqual([['a1', 7001, undefined], ['b2', 7002, undefined], ['d4', 7004, 'a1'], ['e5', 7005, undefined]]);
    expect(nodes[0]!.flags).toEqual(['myself', 'master']);
    expect(nodes[0]!.slots).toEqual([[0, 5460]]);
    expect(slotCount(nodes[1]!)).toBe(5462 + 1);
    expect(servesSlot(nodes[1]!, 12000)).toBe(true);
    expect(servesSlot(nodes[1]!, 11000)).toBe(false);
    expect(nodes[3]!.flags).toContain('fail');
  });

  it('reads INFO commandstats and errorstats lines by name', () => {
    const text = '# Commandstats\r\ncmdstat_get:calls=12,usec=30,usec_per_call=2.50,rejected_calls=0,failed_calls=1\r\ncmdstat_set:calls=3,usec=9\r\n';
    expect(parseInfoStats(text, 'cmdstat_')).toEqual({ get: { calls: 12, usec: 30, usec_per_call: 2.5, rejected_calls: 0, failed_calls: 1 }, set: { calls: 3, usec: 9 } });
    expect(parseInfoStats('# Errorstats\r\nerrorstat_CROSSSLOT:count=4\r\nerrorstat_MOVED:count=2\r\n', 'errorstat_')).toEqual({ CROSSSLOT: { count: 4 }, MOVED: { count: 2 } });
  });
});
