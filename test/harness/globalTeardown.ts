import { rmSync } from 'node:fs';

/** Stops what globalSetup started: the git server, and moto by its PID. */
export default async function globalTeardown(): Promise<void> {
  const state = globalThis.__gitGeoTest;
  await state?.git?.stop();
  if (state?.git) rmSync(state.git.root, { recursive: true, force: true });
  await state?.moto?.stop();
  globalThis.__gitGeoTest = undefined;
}
