import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { RegionControl, type RegionControlState } from '../../lambdas/shared/registry/RegionControl.ts';
import { Registry } from '../../lambdas/shared/registry/Registry.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';
import { isStuck } from '../../lambdas/verify/watchStuckSyncs.ts';
import type { RegionResources } from './regionResources.ts';

export interface FailureGroup {
  readonly code: string;
  /** transient: retried with backoff by itself; permanent: waits for an operator (fix, then redrive). */
  readonly kind: 'transient' | 'permanent' | 'verification';
  readonly count: number;
  readonly examples: readonly string[];
}

export interface RegionStatus {
  readonly region: string;
  readonly control: RegionControlState;
  readonly repositories: number;
  readonly byStatus: Readonly<Record<string, number>>;
  /** The registry knows a newer event than the mirror covers. */
  readonly behind: number;
  readonly stuck: number;
  readonly verified: number;
  readonly verificationGaveUp: number;
  /** Push to replicated, over the newest event each repository's last sync covered. */
  readonly lagMs: { readonly p50?: number; readonly p95?: number; readonly max?: number };
  readonly failures: readonly FailureGroup[];
}

function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Summarises one region's registry for operators: what is where, what is behind, and the commonest failures. */
export function summarise(region: string, states: readonly RepositoryState[], control: RegionControlState, now: Date, leaseSeconds: number): RegionStatus {
  const byStatus: Record<string, number> = {};
  const groups = new Map<string, { code: string; kind: FailureGroup['kind']; count: number; examples: string[] }>();
  const lags: number[] = [];
  let behind = 0;
  let stuck = 0;
  let verified = 0;
  let gaveUp = 0;
  const group = (code: string, kind: FailureGroup['kind'], repository: string): void => {
    const key = `${kind}:${code}`;
    const entry = groups.get(key) ?? { code, kind, count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < 3) entry.examples.push(repository);
    groups.set(key, entry);
  };
  for (const state of states) {
    byStatus[state.status] = (byStatus[state.status] ?? 0) + 1;
    if (state.status === 'deleted') continue;
    if ((state.lastEventSequence ?? 0) > (state.syncedSequence ?? 0)) behind++;
    if (isStuck(state, now, leaseSeconds)) stuck++;
    if (state.status === 'verified') verified++;
    if (state.verificationGaveUp) gaveUp++;
    if (state.lagMs !== undefined) lags.push(state.lagMs);
    if (state.status === 'failed' && state.lastError) group(state.lastError.code, state.lastError.retryable ? 'transient' : 'permanent', state.repository);
    if (state.status === 'verification_failed') for (const code of state.verificationFailure?.codes ?? ['unknown']) group(code, 'verification', state.repository);
  }
  lags.sort((a, b) => a - b);
  return {
    region,
    control,
    repositories: states.filter((state) => state.status !== 'deleted').length,
    byStatus,
    behind,
    stuck,
    verified,
    verificationGaveUp: gaveUp,
    lagMs: { ...(lags.length ? { p50: percentile(lags, 50), p95: percentile(lags, 95), max: lags[lags.length - 1] } : {}) },
    failures: [...groups.values()].sort((a, b) => b.count - a.count),
  };
}

/** Reads a region's registry and control record and summarises them. */
export async function regionStatus(resources: RegionResources, leaseSeconds = 900): Promise<RegionStatus> {
  const db = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig(resources.region, resources.awsEndpoint)), { marshallOptions: { removeUndefinedValues: true } });
  try {
    const states: RepositoryState[] = [];
    for await (const state of new Registry(db, resources.registryTable).list()) states.push(state);
    const control = await new RegionControl(db, resources.registryTable).get();
    return summarise(resources.region, states, control, new Date(), leaseSeconds);
  } finally {
    db.destroy();
  }
}
