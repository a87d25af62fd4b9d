import { createVerifyHandler } from './createVerifyHandler.ts';

// Cold start: configuration is checked before the first scheduled run.
export const handler = await createVerifyHandler(process.env);
