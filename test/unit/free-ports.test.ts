/** Ports the lab listens on are picked below the ephemeral range, where outgoing connections never take them. */
import fs from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePorts } from '../../lab/infra/ports.ts';

describe('freePorts', () => {
  it('gives distinct ports below the kernel\'s ephemeral range that a listener can bind', async () => {
    const ephemeralStart = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = await freePorts(20);
    expect(new Set(ports).size).toBe(20);
    for (const port of ports) expect(port).toBeLessThan(ephemeralStart);
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(ports[0], '127.0.0.1', resolve));
    await new Promise((resolve) => server.close(resolve));
  });

  it('skips a port something already listens on', async () => {
    const [taken] = await freePorts(1);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(taken, '127.0.0.1', resolve));
    try {
      const random = Math.random;
      let calls = 0;
      // The first pick lands on the taken port, the next anywhere else.
      Math.random = () => (calls++ === 0 ? (taken! - 15_000 + 0.5) / (fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)[0]! - 15_000) : random());
      try {
        const [port] = await freePorts(1);
        expect(calls).toBeGreaterThan(1);
        expect(port).not.toBe(taken);
      } finally {
        Math.random = random;
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
