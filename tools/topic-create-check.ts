/**
 * Reproduces the topic-creation flake of issue 7 against the running `lab up` cluster:
 *
 *   npx tsx tools/topic-create-check.ts kafkajs [tries]   createTopics({ waitForLeaders: true }), as the lab used to
 *   npx tsx tools/topic-create-check.ts helper [tries]    createTopicsAndWait (src/kafka/topics.ts)
 *
 * Each try creates a fresh 6-partition topic and then produces one record with acks=all to every
 * partition (what a suite does next); it prints how many tries failed and why, and deletes its topics.
 */
import { Kafka, logLevel } from 'kafkajs';
import { readDescriptor } from '../lab/infra/local/cluster.ts';

const [mode = 'helper', triesArg = '20'] = process.argv.slice(2);
const tries = Number(triesArg);
const descriptor = readDescriptor();
if (!descriptor) throw new Error('no cluster: run `npx lab up` first');
const kafka = new Kafka({ clientId: 'topic-create-check', brokers: descriptor.kafka.brokers.map((b) => b.address), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const producer = kafka.producer({ idempotent: true });
await producer.connect();
const prefix = `lab_topiccheck_${Date.now()}`;
const failures: string[] = [];
for (let i = 0; i < tries; i += 1) {
  const topic = `${prefix}_${i}`;
  const started = Date.now();
  let phase = 'create';
  try {
    if (mode === 'kafkajs') {
      await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
    } else {
      const { createTopicsAndWait } = await import('../src/kafka/topics.ts');
      await createTopicsAndWait(admin, [{ topic, numPartitions: 6 }], { timeoutMs: 30_000 });
    }
    phase = 'produce';
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 6 }, (_, partition) => ({ partition, value: 'x' })) });
    console.log(`try ${i + 1}: ok in ${Date.now() - started} ms`);
  } catch (error) {
    const message = `${phase}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
    failures.push(message);
    console.log(`try ${i + 1}: FAILED after ${Date.now() - started} ms: ${message}`);
  }
}
console.log(`${mode}: ${failures.length} of ${tries} tries failed`);
await producer.disconnect();
const created = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
if (created.length) await admin.deleteTopics({ topics: created });
await admin.disconnect();
process.exit(failures.length ? 1 : 0);
