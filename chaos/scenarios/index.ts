/** Every scenario, by the name `--only` takes, in the order a full run takes them. */
import type { ScenarioRun } from '../scenario-kit.js';
import { pgRestart, pgStop, terminate } from './postgres-faults.js';
import { sigkillEmbedded, sigkillPg, sigterm } from './process-faults.js';
import { providerDown, providerHang } from './provider-faults.js';
import { soak } from './soak.js';

export const SCENARIOS: Record<string, (run: ScenarioRun) => Promise<void>> = {
  terminate,
  'pg-restart': pgRestart,
  'pg-stop': pgStop,
  'sigkill-pg': sigkillPg,
  'sigkill-embedded': sigkillEmbedded,
  sigterm,
  'provider-down': providerDown,
  'provider-hang': providerHang,
  soak,
};
