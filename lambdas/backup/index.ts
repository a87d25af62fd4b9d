import { createBackupHandler } from './createBackupHandler.ts';

// Cold start: configuration is checked before the first scheduled run.
export const handler = createBackupHandler(process.env);
