/**
 * The registry's index of state and time: every item by `status`, newest `updatedAt` last. The
 * schedules (watchdog, verification, backup) query it instead of scanning the table, and read
 * only the statuses they work on. Shared by the table's definition (CDK) and the code.
 */
export const STATUS_INDEX = {
  name: 'ByStatus',
  partitionKey: 'status',
  sortKey: 'updatedAt',
  /** Projected besides the keys: what the verification schedule filters on. */
  projected: ['lastVerifiedAt'],
} as const;
