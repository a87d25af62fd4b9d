import { createSyncHandler } from './createSyncHandler.ts';

// Cold start: configuration and the primary's credentials are checked before the first batch.
export const handler = await createSyncHandler(process.env);
