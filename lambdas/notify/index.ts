import { createNotifyHandler } from './createNotifyHandler.ts';

// Cold start: configuration and the webhook secret are checked before the first request.
export const handler = await createNotifyHandler(process.env);
