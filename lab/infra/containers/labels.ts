/**
 * The labels every lab container carries, and the engine queries that find them again. A checkout has
 * one cluster, so `lab.home` (its .lab dir) is what the reaper, `lab down` and the guard match on;
 * `lab.run` tells one start from the next in `docker ps`. Pure: unit-tested.
 */
import crypto from 'node:crypto';

export const homeLabel = 'lab.home';
export const runLabel = 'lab.run';
export const componentLabel = 'lab.component';

export function containerLabels(labHome: string, runId: string, component: string): Record<string, string> {
  return { [homeLabel]: labHome, [runLabel]: runId, [componentLabel]: component };
}

/** `lab-<8 hex of the checkout's .lab path>-<process>`: two checkouts on one engine never collide. */
export function containerName(labHome: string, processName: string): string {
  return `lab-${crypto.createHash('sha256').update(labHome).digest('hex').slice(0, 8)}-${processName}`;
}

/** `docker ps` arguments listing every container (running or not) of this checkout, ids only. */
export function checkoutContainersQuery(labHome: string): string[] {
  return ['ps', '--all', '--quiet', '--filter', `label=${homeLabel}=${labHome}`];
}
