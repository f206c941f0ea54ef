import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { consolePage } from '../../lab/console/page.ts';
import { readFaultLog } from '../../lab/nemesis/chaos.ts';
import { groupLags } from '../../lab/observe/group-lag.ts';
import { externalLoads } from '../../lab/report/screenshot.ts';

describe('lab console', () => {
  it('the page loads nothing from outside and inserts values as text only', () => {
    const html = consolePage();
    expect(externalLoads(html)).toEqual([]);
    expect(html).toContain('Content-Security-Policy');
    expect(html).not.toMatch(/innerHTML|insertAdjacentHTML|document\.write/);
  });

  it('the fault log (lab chaos) is read oldest first, skipping a torn line', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'faults-')), 'faults.jsonl');
    fs.writeFileSync(file, ['{"at":"2026-01-01T00:00:00Z","action":"broker kill","target":"broker-2"}', '{"at":"2026', '{"at":"2026-01-01T00:00:05Z","action":"heal all","target":"all"}', ''].join('\n'));
    expect(readFaultLog(file).map((f) => f.action)).toEqual(['broker kill', 'heal all']);
    expect(readFaultLog(path.join(path.dirname(file), 'none.jsonl'))).toEqual([]);
  });
});

describe('groupLags', () => {
  // An in-memory stand-in for the admin API: the arithmetic is what is tested, the real API in lab/integration/console.test.ts.
  const admin = {
    listGroups: async () => ({ groups: [{ groupId: 'g', protocolType: 'consumer' }, { groupId: 'connect', protocolType: 'connect' }, { groupId: 'other', protocolType: 'consumer' }] }),
    describeGroups: async (ids: string[]) => ({ groups: ids.map((groupId) => ({ groupId, state: 'Stable', members: [{}, {}] })) }),
    fetchOffsets: async () => [{ topic: 't', partitions: [{ partition: 0, offset: '40' }, { partition: 1, offset: '-1' }] }, { topic: 'gone', partitions: [{ partition: 0, offset: '3' }] }],
    fetchTopicOffsets: async (topic: string) => {
      if (topic === 'gone') throw new Error('This server does not host this topic-partition');
      return [{ partition: 0, offset: '42', high: '42', low: '0' }, { partition: 1, offset: '10', high: '10', low: '4' }];
    },
  } as unknown as Admin;

  it('lag is the end (LSO) minus the committed offset, or minus the earliest offset when none was committed', async () => {
    const [g] = await groupLags(admin, (group) => group === 'g');
    expect(g).toEqual({
      group: 'g', state: 'Stable', members: 2,
      partitions: [
        { topic: 't', partition: 0, committed: 40, end: 42, lag: 2 },
        { topic: 't', partition: 1, committed: undefined, end: 10, lag: 6 },
      ],
    });
  });

  it('only consumer groups that pass the filter', async () => {
    expect((await groupLags(admin)).map((g) => g.group)).toEqual(['g', 'other']);
  });
});
