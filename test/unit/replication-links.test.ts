/** Which replication proxies a fault on "to follower F" / "from leader L" reaches. */
import { describe, expect, it } from 'vitest';
import type { LabEnvironment, ReplicationLink } from '../../lab/infra/environment.ts';
import { replicationProxies } from '../../lab/nemesis/links.ts';

const ids = [1, 2, 3];
const links: ReplicationLink[] = ids.flatMap((leader) => ids.filter((f) => f !== leader).map((follower) => ({ follower, leader, proxy: `replication-${follower}-from-${leader}` })));
const env = (replicationLinks?: ReplicationLink[]) => ({ descriptor: { provider: 'local', kafka: { brokers: [], ...(replicationLinks ? { replicationLinks } : {}) } } }) as unknown as LabEnvironment;

describe('replication proxies by direction', () => {
  it('to a follower: every leader it fetches from; from a leader: every follower fetching from it; both: one link', () => {
    expect(replicationProxies(env(links), { to: 3 }).sort()).toEqual(['replication-3-from-1', 'replication-3-from-2']);
    expect(replicationProxies(env(links), { from: 1 }).sort()).toEqual(['replication-2-from-1', 'replication-3-from-1']);
    expect(replicationProxies(env(links), { to: 2, from: 3 })).toEqual(['replication-2-from-3']);
  });

  it('says what the suite must require when the cluster has no replication proxies, and refuses an empty choice', () => {
    expect(() => replicationProxies(env(), { to: 3 })).toThrow(/replicationLinks: true/);
    expect(() => replicationProxies(env(links), {})).toThrow(/which replication links/);
    expect(() => replicationProxies(env(links), { to: 9 })).toThrow(/no replication link matches/);
  });
});
