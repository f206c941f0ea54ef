import { describe, expect, it } from 'vitest';
import { electionKind, parsePartitionLine, parseUnfenced } from '../../lab/observe/partition-state.ts';

// As Kafka 4.3.1's TopicCommand prints them (tab-separated; an empty list prints nothing after the colon).
const output = [
  '[2026-12-06 03:11:21,508] INFO Kafka version: 4.3.1 (org.apache.kafka.common.utils.AppInfoParser)',
  'Topic: lab_t\tTopicId: x1\tPartitionCount: 1\tReplicationFactor: 3\tConfigs: min.insync.replicas=2',
  '\tTopic: lab_t\tPartition: 0\tLeader: none\tReplicas: 1,2,3\tIsr: \tElr: 1,2\tLastKnownElr: ',
].join('\n');

describe('parsePartitionLine', () => {
  it('reads leader, replicas, ISR, ELR and last-known ELR; "none" is no leader', () => {
    expect(parsePartitionLine(output)).toEqual({ leader: -1, replicas: [1, 2, 3], isr: [], elr: [1, 2], lastKnownElr: [] });
  });
  it('reads a led partition without ELR columns (ELR disabled)', () => {
    expect(parsePartitionLine('\tTopic: t\tPartition: 0\tLeader: 2\tReplicas: 1,2,3\tIsr: 2,3')).toEqual({ leader: 2, replicas: [1, 2, 3], isr: [2, 3], elr: [], lastKnownElr: [] });
  });
  it('finds no line for another partition', () => {
    expect(parsePartitionLine(output, 1)).toBeUndefined();
  });
});

describe('electionKind', () => {
  const before = { leader: 1, isr: [1], elr: [2] };
  it('names the pool the new leader came from', () => {
    expect(electionKind(before, 1)).toBe('same');
    expect(electionKind({ ...before, isr: [1, 3] }, 3)).toBe('clean');
    expect(electionKind(before, 2)).toBe('elr');
    expect(electionKind(before, 3)).toBe('unclean');
    expect(electionKind(before, -1)).toBe('none');
  });
});

describe('processedTotal (ConsoleConsumer)', () => {
  it('reads the count of its last line', async () => {
    const { processedTotal } = await import('../../lab/observe/console-consumer.ts');
    expect(processedTotal('[2026-12-06] ERROR Error processing message, terminating consumer process: \nProcessed a total of 5 messages\n')).toBe(5);
    expect(processedTotal('Processed a total of 1 message')).toBe(1);
    expect(processedTotal('nothing')).toBeUndefined();
  });
});

describe('parseUnfenced (ClusterTool list-endpoints)', () => {
  it('lists the unfenced brokers only', () => {
    const out = 'ID  HOST  PORT  RACK  STATE  ENDPOINT_TYPE\n1  127.0.0.1 41761  null  fenced  broker\n2  127.0.0.1 34887  null  unfenced  broker\n0  127.0.0.1 35303  null  unfenced  controller\n';
    expect(parseUnfenced(out)).toEqual([2]);
  });
});
