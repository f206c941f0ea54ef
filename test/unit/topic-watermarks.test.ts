import { describe, expect, it } from 'vitest';
import { recordCount, topicMetadata, watermarks } from '../../lab/observe/topic.ts';

/** A fake admin whose first answers are kafkajs's TypeError for a topic whose partitions are not known yet. */
function admin(failures: number, error: Error = new TypeError("Cannot destructure property 'partitions' of 'high.pop(...)' as it is undefined.")) {
  let calls = 0;
  return {
    calls: () => calls,
    fetchTopicOffsets: async () => {
      calls += 1;
      if (calls <= failures) throw error;
      return [
        { partition: 0, offset: '5', high: '5', low: '2' },
        { partition: 1, offset: '4', high: '4', low: '0' },
      ];
    },
  };
}

describe('topic watermarks', () => {
  it('asks again while kafkajs fails on partitions it does not know yet, then counts', async () => {
    const fake = admin(2);
    expect(await recordCount(fake, 'fresh-topic')).toBe(7);
    expect(fake.calls()).toBe(3);
  });

  it('gives up after its deadline with kafkajs error', async () => {
    await expect(watermarks(admin(1_000), 'never', 300)).rejects.toThrow(TypeError);
  });

  it('does not retry other errors', async () => {
    const fake = admin(1, new Error('This server does not host this topic-partition'));
    await expect(recordCount(fake, 'gone')).rejects.toThrow('does not host');
    expect(fake.calls()).toBe(1);
  });

  it('asks metadata again while the answering broker does not host a fresh topic yet (UNKNOWN_TOPIC_OR_PARTITION)', async () => {
    let calls = 0;
    const unknown = Object.assign(new Error('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION' });
    const fake = { fetchTopicMetadata: async () => (calls += 1) <= 2 ? Promise.reject(unknown) : { topics: [{ name: 'fresh', partitions: [] }] } };
    expect(await topicMetadata(fake, 'fresh')).toEqual({ name: 'fresh', partitions: [] });
    expect(calls).toBe(3);
  });
});
