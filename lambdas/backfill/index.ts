import { createBackfillHandler } from './createBackfillHandler.ts';

// Cold start: configuration is checked before the first scheduled run.
export const handler = await createBackfillHandler(process.env);
