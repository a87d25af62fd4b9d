import { createRepublishHandler } from './createRepublishHandler.ts';

// Cold start: configuration is checked before the first scheduled run.
export const handler = createRepublishHandler(process.env);
