import { App } from 'aws-cdk-lib';
import { buildApp } from './buildApp.ts';
import { parseGeoConfig } from './GeoConfig.ts';

const app = new App();
buildApp(parseGeoConfig(app.node.tryGetContext('git-geo')), { app });
app.synth();
