/** What the run hands every scenario. */
import type { PgCluster } from '../test/helpers/private-postgres.js';

export interface ChaosContext {
  /** A temporary directory of this run, removed at the end. */
  workDir: string;
  /** The private cluster, started on first use. */
  cluster(): Promise<PgCluster>;
  signal: AbortSignal;
  soakSeconds: number;
  /** Run the built CLI instead of the sources. */
  built: boolean;
  /** Where each service process's output is written at the end of its scenario (Default: nowhere) */
  logsDir: string | undefined;
  progress(message: string): void;
}
