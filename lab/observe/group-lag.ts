/**
 * Consumer lag of every group, read from outside with Kafka's admin API: per partition, the last stable
 * offset minus the group's committed offset.
 *
 *   await groupLags(admin)   // [{ group: 'e001.projection', state: 'Stable', members: 2,
 *                            //    partitions: [{ topic, partition: 0, committed: 40, end: 42, lag: 2 }] }]
 *
 * The end is the LSO, not the high watermark: kafkajs's admin asks ListOffsets with READ_COMMITTED, so
 * records of an open transaction are not counted as lag a read_committed consumer could have read
 * (E-007/E-012 show the difference). A group with no committed offset on a partition lags from its
 * earliest offset.
 */
import type { Admin } from 'kafkajs';

export interface PartitionLag {
  topic: string;
  partition: number;
  /** Committed offset, or undefined when the group committed none on this partition. */
  committed: number | undefined;
  end: number;
  lag: number;
}

export interface GroupLag {
  group: string;
  state: string;
  members: number;
  partitions: PartitionLag[];
}

export async function groupLags(admin: Admin, filter: (group: string) => boolean = () => true): Promise<GroupLag[]> {
  const { groups } = await admin.listGroups();
  const ids = groups.filter((g) => g.protocolType === 'consumer' && filter(g.groupId)).map((g) => g.groupId).sort();
  if (ids.length === 0) return [];
  const described = new Map((await admin.describeGroups(ids)).groups.map((g) => [g.groupId, g]));
  const ends = new Map<string, Map<number, { low: number; end: number }>>();
  const endsOf = async (topic: string) => {
    if (!ends.has(topic)) {
      const offsets = await admin.fetchTopicOffsets(topic);
      ends.set(topic, new Map(offsets.map((o) => [o.partition, { low: Number(o.low), end: Number(o.high) }])));
    }
    return ends.get(topic)!;
  };
  const result: GroupLag[] = [];
  for (const group of ids) {
    const partitions: PartitionLag[] = [];
    for (const { topic, partitions: committed } of await admin.fetchOffsets({ groupId: group })) {
      const topicEnds = await endsOf(topic).catch(() => undefined);
      if (!topicEnds) continue; // the topic was deleted since the group committed on it
      for (const c of committed) {
        const marks = topicEnds.get(c.partition);
        if (!marks) continue;
        const at = Number(c.offset) >= 0 ? Number(c.offset) : undefined;
        partitions.push({ topic, partition: c.partition, committed: at, end: marks.end, lag: Math.max(0, marks.end - (at ?? marks.low)) });
      }
    }
    const info = described.get(group);
    result.push({ group, state: info?.state ?? 'Unknown', members: info?.members.length ?? 0, partitions: partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition) });
  }
  return result;
}
