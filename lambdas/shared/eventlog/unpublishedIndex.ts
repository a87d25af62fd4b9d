/**
 * The event log's sparse index of events not yet published: only they carry its partition key.
 * Shared by the table's definition (CDK) and the code that reads and writes it.
 */
export const UNPUBLISHED_INDEX = {
  name: 'Unpublished',
  partitionKey: 'publishPending',
  sortKey: 'receivedAt',
} as const;
