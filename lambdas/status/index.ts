import { createStatusHandler } from './createStatusHandler.ts';

// Cold start: configuration is checked before the first request.
export const handler = createStatusHandler(process.env);
