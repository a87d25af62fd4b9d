import { createAnnounceHandler } from './createAnnounceHandler.ts';
import { handlerAtColdStart } from '../shared/aws/lambdaEntry.ts';

// The factory, for the local runtime: it imports this bundle and calls it with the template's environment.
export { createAnnounceHandler };

// Cold start: configuration is checked before the first batch.
export const handler = await handlerAtColdStart(createAnnounceHandler);
