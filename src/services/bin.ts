/**
 * Executable entry of one service process: `node --import tsx src/services/bin.ts <name>`, with the config
 * as JSON in LAB_SERVICE_CONFIG (behaviour: see main.ts). The harness spawns this directly, one Node
 * process per service, instead of `npx lab service <name>`: that path is a chain of three Node processes
 * (the `lab` wrapper, the tsx CLI, then the service), and the two wrappers alone cost ~90 MB RSS per
 * service while doing nothing but relay signals. `npx lab service <name>` still works for people.
 */
import { runService } from './main.ts';

const name = process.argv[2];
runService(name ?? '').catch((error: unknown) => {
  // A service that cannot start exits non-zero with the reason on stderr (the harness shows its log).
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
