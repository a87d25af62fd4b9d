import { createSyncHandler } from './createSyncHandler.ts';
import { handlerAtColdStart } from '../shared/aws/lambdaEntry.ts';

// The factory, for the local runtime: it imports this bundle and calls it with the template's environment.
export { createSyncHandler };

// Cold start: configuration and the primary's credentials are checked before the first batch.
export const handler = await handlerAtColdStart(createSyncHandler);
