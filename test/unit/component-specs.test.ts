/**
 * The component specs both providers run (the containers provider places the same command lines in
 * containers): every server binds loopback on the port it was given, keeps its data and log in the run
 * dir, and carries the settings an experiment depends on.
 */
import { describe, expect, it } from 'vitest';
import { placeInContainer } from '../../lab/infra/containers/placement.ts';
import { mariadbSpec } from '../../lab/infra/local/mariadb.ts';
import { redisSpec } from '../../lab/infra/local/redis.ts';
import { registrySpec } from '../../lab/infra/local/registry.ts';
import { toxiproxySpec } from '../../lab/infra/local/toxiproxy.ts';
import { runPaths } from '../../lab/infra/paths.ts';

const args = (spec: { args: string[] }) => spec.args.join(' ');

describe('component specs', () => {
  it('MariaDB: loopback on its port, data in the run dir, durable commits, REPEATABLE READ', () => {
    const spec = mariadbSpec('/usr/sbin/mariadbd', 41001);
    expect(spec).toMatchObject({ name: 'mysql', command: '/usr/sbin/mariadbd', logFile: runPaths.log('mysql') });
    expect(spec.args[0]).toBe('--no-defaults'); // never the machine's my.cnf
    expect(spec.args).toEqual(expect.arrayContaining(['--port=41001', '--bind-address=127.0.0.1', `--datadir=${runPaths.data('mysql')}`, '--innodb-flush-log-at-trx-commit=1', '--transaction-isolation=REPEATABLE-READ']));
  });

  it('Redis: loopback on its port, no persistence, no eviction (a cache experiment counts every key)', () => {
    const spec = redisSpec('redis-server', 41002);
    expect(spec).toMatchObject({ name: 'redis', logFile: runPaths.log('redis') });
    expect(args(spec)).toContain('--bind 127.0.0.1 --port 41002');
    expect(args(spec)).toContain(`--dir ${runPaths.data('redis')}`);
    expect(args(spec)).toContain('--maxmemory-policy noeviction');
    expect(args(spec)).toContain("--save  --appendonly no");
  });

  it('registry: HTTP and the management interface on loopback, each on its own given port', () => {
    const spec = registrySpec(41003, 41004, '/usr/lib/jvm/java-21/bin/java');
    expect(spec).toMatchObject({ name: 'registry', command: '/usr/lib/jvm/java-21/bin/java', logFile: runPaths.log('registry') });
    expect(spec.args).toEqual(expect.arrayContaining(['-Dquarkus.http.port=41003', '-Dquarkus.http.host=127.0.0.1', '-Dquarkus.management.host=127.0.0.1', '-Dquarkus.management.port=41004']));
    expect(spec.args.at(-2)).toBe('-jar');
  });

  it('Toxiproxy: its API on loopback', () => {
    const spec = toxiproxySpec(41005);
    expect(spec.args).toEqual(['-host', '127.0.0.1', '-port', '41005']);
    expect(spec.command).toMatch(/lab-toxiproxy-server$/); // renamed, so `ps` tells the lab's apart
  });

  it('placed in a container, each keeps its ports, data dir and log (only install paths and java move)', () => {
    for (const spec of [mariadbSpec('/usr/sbin/mariadbd', 1), redisSpec('/usr/bin/redis-server', 2), registrySpec(3, 4, '/opt/jdk/bin/java'), toxiproxySpec(5)]) {
      const placed = placeInContainer(spec, { image: 'lab/x:1', name: `lab-0-${spec.name}`, labels: {}, mounts: [runPaths.root] }, []);
      expect(placed.args).toEqual(spec.args);
      expect(placed.logFile).toBe(spec.logFile);
      expect(placed.command).toBe(spec.command.endsWith('/java') ? 'java' : spec.command);
    }
  });
});
