/** The containers provider's pure parts: placing a local command line in a container, labels, images. */
import { describe, expect, it } from 'vitest';
import { checkoutContainersQuery, containerLabels, containerName } from '../../lab/infra/containers/labels.ts';
import { containerCommand, placeInContainer } from '../../lab/infra/containers/placement.ts';
import { debianMirror, imageFor, imageTag } from '../../lab/infra/containers/images.ts';
import { dockerdArgs } from '../../lab/infra/containers/engine.ts';
import type { ProcessSpec } from '../../lab/infra/local/supervisor.ts';

const broker: ProcessSpec = {
  name: 'broker-1',
  command: '/usr/lib/jvm/java-17/bin/java',
  args: ['-Xmx512m', '-Dlog4j2.configurationFile=/repo/infra/native/log4j2.properties', '-cp', '/repo/.lab/kafka/4.3.1/libs/*', 'kafka.Kafka', '/repo/.lab/run/conf/broker-1/server.properties'],
  logFile: '/repo/.lab/run/logs/broker-1.log',
  readyPort: 40123,
};
const placement = { image: 'lab/kafka:0123', name: 'lab-abcd-broker-1', labels: { 'lab.home': '/repo/.lab' }, mounts: ['/repo/.lab/run'] };
const paths: Array<[string, string]> = [
  ['/repo/.lab/kafka/4.3.1/libs', '/opt/kafka/libs'],
  ['/repo/infra/native', '/opt/lab/native'],
];

describe('placing a local command line in a container', () => {
  const placed = placeInContainer(broker, placement, paths);

  it('keeps the command line, rewriting only install paths and java', () => {
    expect(placed.command).toBe('java');
    expect(placed.args).toEqual(['-Xmx512m', '-Dlog4j2.configurationFile=/opt/lab/native/log4j2.properties', '-cp', '/opt/kafka/libs/*', 'kafka.Kafka', '/repo/.lab/run/conf/broker-1/server.properties']);
    expect(placed.logFile).toBe(broker.logFile);
    expect(placed.readyPort).toBe(40123);
    expect(placed.container).toEqual(placement);
  });

  it('runs the command line under a shell that appends its output to its own log, then execs it (pid 1)', () => {
    const { entrypoint, command } = containerCommand(placed);
    expect(entrypoint).toEqual(['/bin/sh']);
    expect(command).toEqual(['-c', 'exec "$@" >>"$0" 2>&1', broker.logFile, 'java', ...placed.args]);
  });

  it('refuses a spec that was not placed', () => {
    expect(() => containerCommand(broker)).toThrow(/not placed/);
  });
});

describe('labels and the reaper query', () => {
  it('names containers per checkout and process', () => {
    expect(containerName('/a/.lab', 'broker-1')).toMatch(/^lab-[0-9a-f]{8}-broker-1$/);
    expect(containerName('/a/.lab', 'broker-1')).not.toBe(containerName('/b/.lab', 'broker-1'));
  });

  it('labels a container with its checkout, run and component, and finds all of a checkout, stopped ones too', () => {
    expect(containerLabels('/a/.lab', 'run1', 'redis')).toEqual({ 'lab.home': '/a/.lab', 'lab.run': 'run1', 'lab.component': 'redis' });
    expect(checkoutContainersQuery('/a/.lab')).toEqual(['ps', '--all', '--quiet', '--filter', 'label=lab.home=/a/.lab']);
  });

  it('starts dockerd without a bridge or NAT: host networking only', () => {
    expect(dockerdArgs()).toEqual(expect.arrayContaining(['--bridge=none', '--iptables=false', '--ip-masq=false']));
  });
});

describe('images', () => {
  it('maps every process, its one-shot steps included, to its image', () => {
    expect(['controller', 'broker-3', 'controller-format', 'broker-2-format'].map(imageFor)).toEqual(['kafka', 'kafka', 'kafka', 'kafka']);
    expect(['registry', 'mysql', 'mysql-install-db', 'redis', 'toxiproxy'].map(imageFor)).toEqual(['registry', 'mariadb', 'mariadb', 'redis', 'toxiproxy']);
    expect(() => imageFor('guard')).toThrow(/no image/);
  });

  it('tags by content: same inputs same tag in any order, any changed input a new tag', () => {
    const files: Array<[string, string]> = [['libs/a.jar', 'd1'], ['libs/b.jar', 'd2']];
    const tag = imageTag('kafka', 'FROM x', 'sha256:base', files);
    expect(tag).toMatch(/^lab\/kafka:[0-9a-f]{16}$/);
    expect(imageTag('kafka', 'FROM x', 'sha256:base', [...files].reverse())).toBe(tag);
    expect(imageTag('kafka', 'FROM y', 'sha256:base', files)).not.toBe(tag);
    expect(imageTag('kafka', 'FROM x', 'sha256:other', files)).not.toBe(tag);
    expect(imageTag('kafka', 'FROM x', 'sha256:base', [['libs/a.jar', 'd1'], ['libs/b.jar', 'd3']])).not.toBe(tag);
    expect(imageTag('kafka', 'FROM x', 'sha256:base', [['libs/a.jar', 'd1']])).not.toBe(tag);
  });

  it("finds the machine's Debian mirror in one-line and deb822 sources, skipping others", () => {
    expect(debianMirror(['URIs: https://deb.nodesource.com/node_20.x\n', 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n'])).toBe('http://deb.debian.org/debian');
    expect(debianMirror(['deb [signed-by=/k.gpg] http://mirror.example/debian/ bookworm main\n'])).toBe('http://mirror.example/debian');
    expect(debianMirror(['deb http://security.debian.org/debian-security bookworm-security main'])).toBe('http://deb.debian.org/debian');
  });
});
