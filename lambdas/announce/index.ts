import { createAnnounceHandler } from './createAnnounceHandler.ts';

// Cold start: configuration is checked before the first batch.
export const handler = createAnnounceHandler(process.env);
