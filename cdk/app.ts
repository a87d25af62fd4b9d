import { App } from 'aws-cdk-lib';
import { existsSync, readFileSync } from 'node:fs';
import { buildApp } from './buildApp.ts';
import { CONTEXT_KEYS, resolveGeoConfig } from './GeoConfig.ts';

const app = new App();
// `-c git-geo='{…}'` replaces cdk.json's value in the context CDK hands over: it is merged over cdk.json's here.
const cdkJson = existsSync('cdk.json') ? (JSON.parse(readFileSync('cdk.json', 'utf8')) as { context?: Record<string, unknown> }) : {};
buildApp(resolveGeoConfig((key) => app.node.tryGetContext(key), cdkJson.context?.[CONTEXT_KEYS.config]), { app });
app.synth();
