import { describe, expect, it } from 'vitest';
import { clusterDefaults } from '../../lab/infra/local/kafka.ts';
import { defaultShape, shapeDifferences, wantedShape } from '../../lab/infra/requirements.ts';

describe('suite requirements → cluster shape', () => {
  it('the default shape is the cluster defaults on every node, direct replication, no Redis Cluster', () => {
    expect(defaultShape.kafka.controller).toEqual(clusterDefaults);
    expect(defaultShape.kafka.brokers).toEqual(clusterDefaults);
    expect(defaultShape).toMatchObject({ kafka: { replicationLinks: false }, redisCluster: false });
    expect(shapeDifferences(defaultShape, wantedShape({}))).toEqual({ kafka: [], redisCluster: [] });
  });

  it('puts broker, controller and cluster-wide overrides where they belong', () => {
    const shape = wantedShape({
      kafka: { cluster: { 'replica.lag.time.max.ms': '3000' }, brokers: { 'min.insync.replicas': '3' }, controller: { 'unclean.leader.election.enable': 'true' } },
    });
    expect(shape.kafka.brokers['min.insync.replicas']).toBe('3');
    // The controller publishes its min.insync.replicas as the cluster-wide default: it must say 3 too.
    expect(shape.kafka.controller['min.insync.replicas']).toBe('3');
    expect(shape.kafka.controller['unclean.leader.election.enable']).toBe('true');
    expect(shape.kafka.brokers['unclean.leader.election.enable']).toBe('false');
    expect(shape.kafka.brokers['replica.lag.time.max.ms']).toBe('3000');
    expect(shape.kafka.controller['replica.lag.time.max.ms']).toBe('3000');
  });

  it('a controller-resolved setting required of the brokers goes to the controller, unless the controller says otherwise', () => {
    expect(wantedShape({ kafka: { brokers: { 'num.partitions': '6', 'log.segment.bytes': '1048576' } } }).kafka.controller).toMatchObject({ 'num.partitions': '6' });
    expect(wantedShape({ kafka: { brokers: { 'log.segment.bytes': '1048576' } } }).kafka.controller['log.segment.bytes']).toBeUndefined();
    const both = wantedShape({ kafka: { brokers: { 'unclean.leader.election.enable': 'false' }, controller: { 'unclean.leader.election.enable': 'true' } } });
    expect(both.kafka.controller['unclean.leader.election.enable']).toBe('true');
  });

  it('names every difference, so a cluster that differs is never taken as fitting', () => {
    const wanted = wantedShape({ kafka: { controller: { 'unclean.leader.election.enable': 'true' }, replicationLinks: true }, redisCluster: true });
    const differences = shapeDifferences(defaultShape, wanted);
    expect(differences.kafka).toEqual(['controller unclean.leader.election.enable=false, true wanted', 'replication links direct, proxied wanted']);
    expect(differences.redisCluster).toEqual(['Redis Cluster not running, required']);
    // …and back: the next suite requiring the default sees the same differences the other way.
    expect(shapeDifferences(wanted, defaultShape).kafka).toHaveLength(2);
    expect(shapeDifferences(wanted, defaultShape).redisCluster).toEqual(['Redis Cluster running, not required']);
  });

  it('a setting added by a suite and absent from the defaults is a difference too', () => {
    const wanted = wantedShape({ kafka: { brokers: { 'log.flush.interval.messages': '1' } } });
    expect(shapeDifferences(defaultShape, wanted).kafka).toEqual(['brokers log.flush.interval.messages=(unset), 1 wanted']);
    expect(shapeDifferences(wanted, defaultShape).kafka).toEqual(['brokers log.flush.interval.messages=1, (unset) wanted']);
  });

  it('a cluster that recorded no shape (started before shapes were recorded) is restarted', () => {
    expect(shapeDifferences(undefined, defaultShape).kafka).toEqual(['the running cluster recorded no Kafka settings']);
  });

  it('refuses to let a suite rewire a node (listeners, ids, paths are the lab’s)', () => {
    expect(() => wantedShape({ kafka: { brokers: { listeners: 'PLAINTEXT://0.0.0.0:9092' } } })).toThrow(/listeners/);
    expect(() => wantedShape({ kafka: { controller: { 'node.id': '7' } } })).toThrow(/node\.id/);
  });
});
