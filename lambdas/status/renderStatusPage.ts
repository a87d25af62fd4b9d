import type { DeploymentStatus, LagPoint, RegionStatus, RepositoryInRegion, UnreachableRegion } from './deploymentStatus.ts';

/**
 * The status page: plain HTML (no script, no build step), refreshed by the browser itself
 * (meta refresh), readable by screen readers (landmarks, headings, captions, labels, text beside
 * every colour) and at WCAG AA contrast. Lag over time is an inline SVG chart with its numbers
 * in a table beside it.
 */

export interface StatusPageInput {
  readonly status: DeploymentStatus;
  /** Seconds between the browser's reloads. */
  readonly refreshSeconds: number;
  /** The repository searched for, and its state in each region (or why the search failed). */
  readonly search?: { readonly repository: string; readonly results?: readonly RepositoryInRegion[]; readonly error?: string };
  /** The page's own path, for the search form (a Function URL serves it at /, git-geo local under /status). */
  readonly path: string;
}

const escapeHtml = (value: unknown): string =>
  String(value).replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!);

const duration = (ms: number | undefined): string => {
  if (ms === undefined) return '–';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 1000)} s`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
};

const HEALTH_LABEL = { healthy: 'Healthy', degraded: 'Degraded', unhealthy: 'Unhealthy', unreachable: 'Unreachable' } as const;

const STYLE = `
:root { color-scheme: light; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1a1a1a; background: #fafafa; }
header, main, footer { max-width: 72rem; margin: 0 auto; padding: 0 1rem; }
header { padding-top: 1rem; }
h1 { font-size: 1.6rem; margin: 0.5rem 0; }
h2 { font-size: 1.3rem; margin: 0; }
h3 { font-size: 1.05rem; margin: 1rem 0 0.25rem; }
a { color: #0b4fa8; }
.summary { font-size: 1.1rem; font-weight: 600; }
.region { background: #fff; border: 1px solid #c4c4c4; border-left-width: 0.5rem; border-radius: 4px; padding: 1rem; margin: 1rem 0; }
.region.healthy { border-left-color: #1b6e2e; }
.region.degraded { border-left-color: #8a5a00; }
.region.unhealthy, .region.unreachable { border-left-color: #a4161a; }
.badge { display: inline-block; padding: 0.1rem 0.6rem; border-radius: 1rem; font-weight: 700; font-size: 0.95rem; margin-left: 0.5rem; color: #fff; vertical-align: middle; }
.badge.healthy { background: #1b6e2e; }
.badge.degraded { background: #8a5a00; }
.badge.unhealthy, .badge.unreachable { background: #a4161a; }
.reasons { margin: 0.5rem 0; padding-left: 1.25rem; }
dl.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(10rem, 1fr)); gap: 0.5rem 1rem; margin: 0.75rem 0; }
dl.figures div { border-top: 1px solid #ddd; padding-top: 0.25rem; }
dt { font-size: 0.85rem; color: #4a4a4a; }
dd { margin: 0; font-size: 1.15rem; font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin: 0.25rem 0; font-size: 0.95rem; }
caption { text-align: left; font-weight: 600; padding: 0.25rem 0; }
th, td { text-align: left; border-bottom: 1px solid #ddd; padding: 0.3rem 0.5rem; vertical-align: top; }
th { background: #f0f0f0; }
form { margin: 1rem 0; display: flex; gap: 0.5rem; align-items: end; flex-wrap: wrap; }
label { font-weight: 600; display: block; }
input[type=search] { font: inherit; padding: 0.35rem 0.5rem; border: 1px solid #6b6b6b; border-radius: 4px; min-width: 20rem; }
button { font: inherit; padding: 0.35rem 1rem; border: 1px solid #0b4fa8; background: #0b4fa8; color: #fff; border-radius: 4px; cursor: pointer; }
:focus-visible { outline: 3px solid #0b4fa8; outline-offset: 2px; }
.chart { max-width: 36rem; }
.muted { color: #4a4a4a; }
footer { color: #4a4a4a; font-size: 0.9rem; padding-bottom: 2rem; }
`;

function lagChart(region: string, points: readonly LagPoint[], sloMs: number): string {
  if (points.length === 0) return `<p class="muted">No syncs finished in the last hour.</p>`;
  const width = 560;
  const height = 160;
  const left = 48;
  const bottom = 24;
  const first = Date.parse(points[0]!.at);
  const last = Math.max(Date.parse(points[points.length - 1]!.at), first + 60_000);
  const top = Math.max(sloMs * 1.2, ...points.map((point) => point.maxMs)) || 1;
  const x = (at: string): number => left + ((Date.parse(at) - first) / (last - first)) * (width - left - 8);
  const y = (ms: number): number => height - bottom - (ms / top) * (height - bottom - 8);
  const line = (value: (point: LagPoint) => number): string => points.map((point) => `${x(point.at).toFixed(1)},${y(value(point)).toFixed(1)}`).join(' ');
  const dots = (value: (point: LagPoint) => number, colour: string): string =>
    points.map((point) => `<circle cx="${x(point.at).toFixed(1)}" cy="${y(value(point)).toFixed(1)}" r="3" fill="${colour}"/>`).join('');
  const time = (at: string): string => new Date(at).toISOString().slice(11, 16);
  const titleId = `lag-title-${escapeHtml(region)}`;
  const worst = Math.max(...points.map((point) => point.maxMs));
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${titleId}" xmlns="http://www.w3.org/2000/svg">
<title id="${titleId}">Replication lag in ${escapeHtml(region)} over the last hour: ${points.length} minutes with syncs, worst ${escapeHtml(duration(worst))}, objective ${escapeHtml(duration(sloMs))}</title>
<line x1="${left}" y1="${height - bottom}" x2="${width - 8}" y2="${height - bottom}" stroke="#6b6b6b"/>
<line x1="${left}" y1="8" x2="${left}" y2="${height - bottom}" stroke="#6b6b6b"/>
<text x="${left - 4}" y="${y(top) + 10}" text-anchor="end" font-size="11" fill="#1a1a1a">${escapeHtml(duration(top))}</text>
<text x="${left - 4}" y="${height - bottom}" text-anchor="end" font-size="11" fill="#1a1a1a">0</text>
<text x="${left}" y="${height - 6}" font-size="11" fill="#1a1a1a">${time(points[0]!.at)}</text>
<text x="${width - 8}" y="${height - 6}" text-anchor="end" font-size="11" fill="#1a1a1a">${time(points[points.length - 1]!.at)} UTC</text>
<line x1="${left}" y1="${y(sloMs).toFixed(1)}" x2="${width - 8}" y2="${y(sloMs).toFixed(1)}" stroke="#a4161a" stroke-dasharray="6 4"/>
<text x="${width - 10}" y="${(y(sloMs) - 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#a4161a">objective ${escapeHtml(duration(sloMs))}</text>
<polyline points="${line((point) => point.maxMs)}" fill="none" stroke="#8a5a00" stroke-width="2"/>${dots((point) => point.maxMs, '#8a5a00')}
<polyline points="${line((point) => point.p50Ms)}" fill="none" stroke="#0b4fa8" stroke-width="2"/>${dots((point) => point.p50Ms, '#0b4fa8')}
</svg>
<p class="muted"><span style="color:#0b4fa8">━ median</span> · <span style="color:#8a5a00">━ worst</span> lag of the syncs that finished each minute · <span style="color:#a4161a">┅ objective</span></p>
<details><summary>Lag per minute (table)</summary><table><caption>Replication lag per minute in ${escapeHtml(region)}</caption>
<thead><tr><th scope="col">Minute (UTC)</th><th scope="col">Syncs</th><th scope="col">Median</th><th scope="col">Worst</th></tr></thead><tbody>
${points.map((point) => `<tr><td>${time(point.at)}</td><td>${point.syncs}</td><td>${escapeHtml(duration(point.p50Ms))}</td><td>${escapeHtml(duration(point.maxMs))}</td></tr>`).join('\n')}
</tbody></table></details>`;
}

function runLine(name: string, run: RegionStatus['lastBackup'], now: number): string {
  if (run === undefined) return `<dd>never recorded</dd>`;
  const counts = Object.entries(run.counts)
    .map(([key, value]) => `${escapeHtml(key)} ${value}`)
    .join(', ');
  return `<dd><time datetime="${escapeHtml(run.at)}">${escapeHtml(run.at.replace('T', ' ').slice(0, 19))} UTC</time> <span class="muted">(${escapeHtml(duration(now - Date.parse(run.at)))} ago${counts ? `; ${counts}` : ''})</span></dd>`;
}

function regionSection(region: RegionStatus | UnreachableRegion, sloMs: number, now: number): string {
  const id = `region-${escapeHtml(region.region)}`;
  const heading = `<h2 id="${id}-heading">${escapeHtml(region.region)}<span class="badge ${region.health}">${HEALTH_LABEL[region.health]}</span></h2>`;
  const reasons = region.reasons.length === 0 ? '' : `<ul class="reasons" aria-label="Why ${escapeHtml(region.region)} is ${HEALTH_LABEL[region.health].toLowerCase()}">${region.reasons.map((reason) => `<li>${escapeHtml(reason)}</li>`).join('')}</ul>`;
  if (region.health === 'unreachable') {
    return `<section class="region unreachable" aria-labelledby="${id}-heading">${heading}${reasons}<p>Its figures cannot be shown until it answers again; the other regions are unaffected. Checked <time datetime="${escapeHtml(region.checkedAt)}">${escapeHtml(region.checkedAt.slice(11, 19))} UTC</time>.</p></section>`;
  }
  const figure = (term: string, value: string): string => `<div><dt>${term}</dt><dd>${value}</dd></div>`;
  const failures =
    region.failures.length === 0
      ? `<p>No failures.</p>`
      : `<table class="failures"><caption>Failures by cause in ${escapeHtml(region.region)}</caption><thead><tr><th scope="col">Cause</th><th scope="col">Kind</th><th scope="col">Repositories</th><th scope="col">Which</th></tr></thead><tbody>
${region.failures
  .map(
    (failure) =>
      `<tr><td><code>${escapeHtml(failure.code)}</code></td><td>${failure.kind}</td><td>${failure.count}</td><td>${failure.repositories.map((repository) => `<code>${escapeHtml(repository)}</code>`).join(', ')}${failure.count > failure.repositories.length ? ` and ${failure.count - failure.repositories.length} more` : ''}</td></tr>`,
  )
  .join('\n')}
</tbody></table>`;
  return `<section class="region ${region.health}" aria-labelledby="${id}-heading">${heading}${reasons}
<dl class="figures">
${figure('Repositories', String(region.repositories))}
${figure('Synced', `${region.synced} <span class="muted">(${region.percent.synced}%)</span>`)}
${figure('Verified', `${region.verified} <span class="muted">(${region.percent.verified}%)</span>`)}
${figure('Failed', `${region.failed} <span class="muted">(${region.percent.failed}%)</span>`)}
${figure('Behind', String(region.behind))}
${figure('Stuck', String(region.stuck))}
${figure('Lag p50', escapeHtml(duration(region.lagMs.p50)))}
${figure('Lag p95', escapeHtml(duration(region.lagMs.p95)))}
${figure('Lag p99', escapeHtml(duration(region.lagMs.p99)))}
${figure('Backlog age', escapeHtml(duration(region.oldestUnreplicatedMs)))}
${figure('Events queued', region.queuedEvents === undefined ? '–' : String(region.queuedEvents))}
${figure('Dead letters', region.deadLetters === undefined ? '–' : String(region.deadLetters))}
${figure('Sync', region.control.paused ? 'paused' : 'running')}
</dl>
<dl>
<dt>Last backup</dt>${runLine('backup', region.lastBackup, now)}
<dt>Last verification run</dt>${runLine('verification', region.lastVerification, now)}
</dl>
<h3>Lag over the last hour</h3>
${lagChart(region.region, region.lagHistory, sloMs)}
<h3>Failures</h3>
${failures}
<h3>By type</h3>
${typesTable(region)}
</section>`;
}

/** What the region holds of each replicable type (repositories, wikis, LFS objects, ...), from status's per-type counts. */
function typesTable(region: RegionStatus): string {
  const rows = Object.entries(region.byType)
    .map(([type, count]) => `<tr><th scope="row"><code>${escapeHtml(type)}</code></th><td>${count.items}</td><td>${count.synced}</td><td>${count.verified}</td><td>${count.failed}${count.failures.length === 0 ? '' : ` <span class="muted">(${count.failures.map((failure) => `${escapeHtml(failure.code)}: ${failure.count}`).join(', ')})</span>`}</td></tr>`)
    .join('\n');
  return `<table><caption>Replicated per type in ${escapeHtml(region.region)}</caption><thead><tr><th scope="col">Type</th><th scope="col">Items</th><th scope="col">Synced</th><th scope="col">Verified</th><th scope="col">Failed</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

function searchResults(search: NonNullable<StatusPageInput['search']>): string {
  if (search.error !== undefined) return `<p role="alert">${escapeHtml(search.error)}</p>`;
  const rows = (search.results ?? []).map((entry) => {
    if ('unreachable' in entry) return `<tr><th scope="row">${escapeHtml(entry.region)}</th><td>Unreachable</td><td colspan="5">${escapeHtml(entry.unreachable)}</td></tr>`;
    if (!entry.found) return `<tr><th scope="row">${escapeHtml(entry.region)}</th><td>Not held</td><td colspan="5">This region has no record of the repository.</td></tr>`;
    const { state } = entry;
    const problem = state.lastError ? `${state.lastError.code}: ${state.lastError.message}` : state.verificationFailure ? `verification: ${state.verificationFailure.codes.join(', ')}` : '';
    return `<tr><th scope="row">${escapeHtml(entry.region)}</th><td>${escapeHtml(state.status)}</td><td>${escapeHtml(state.syncedSequence ?? '–')} of ${escapeHtml(state.lastEventSequence ?? '–')}</td><td>${escapeHtml(state.lastSyncedAt ?? '–')}</td><td>${escapeHtml(duration(state.lagMs))}</td><td>${escapeHtml(state.verifiedAt ?? '–')}</td><td>${escapeHtml(problem)}</td></tr>`;
  });
  return `<table aria-live="polite"><caption>State of <code>${escapeHtml(search.repository)}</code> in every region</caption>
<thead><tr><th scope="col">Region</th><th scope="col">Status</th><th scope="col">Events synced</th><th scope="col">Last synced</th><th scope="col">Lag</th><th scope="col">Last verified</th><th scope="col">Problem</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

export function renderStatusPage(input: StatusPageInput): string {
  const { status } = input;
  const now = Date.parse(status.generatedAt);
  const sloMs = status.lagSloSeconds * 1000;
  const attention = status.regions.filter((region) => region.health !== 'healthy');
  const summary =
    attention.length === 0
      ? `All ${status.regions.length} regions are healthy.`
      : `${attention.length} of ${status.regions.length} regions need attention: ${attention.map((region) => `${region.region} (${HEALTH_LABEL[region.health].toLowerCase()})`).join(', ')}.`;
  const overview = `<table><caption>Regions at a glance</caption><thead><tr><th scope="col">Region</th><th scope="col">Health</th><th scope="col">Synced</th><th scope="col">Verified</th><th scope="col">Failed</th><th scope="col">Lag p99</th></tr></thead><tbody>
${status.regions
  .map((region) =>
    region.health === 'unreachable'
      ? `<tr><th scope="row"><a href="#region-${escapeHtml(region.region)}-heading">${escapeHtml(region.region)}</a></th><td>Unreachable</td><td colspan="4">–</td></tr>`
      : `<tr><th scope="row"><a href="#region-${escapeHtml(region.region)}-heading">${escapeHtml(region.region)}</a></th><td>${HEALTH_LABEL[region.health]}</td><td>${region.percent.synced}%</td><td>${region.percent.verified}%</td><td>${region.percent.failed}%</td><td>${escapeHtml(duration(region.lagMs.p99))}</td></tr>`,
  )
  .join('\n')}
</tbody></table>`;
  const query = input.search?.repository ?? '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${input.refreshSeconds}">
<title>${attention.length === 0 ? '' : `(${attention.length}) `}git-geo status</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>git-geo status</h1>
<p class="summary" role="status">${escapeHtml(summary)}</p>
<p class="muted">As of <time datetime="${escapeHtml(status.generatedAt)}">${escapeHtml(status.generatedAt.replace('T', ' ').slice(0, 19))} UTC</time>; this page reloads every ${input.refreshSeconds} s. Replication lag objective: ${escapeHtml(duration(sloMs))}.</p>
</header>
<main>
<form method="get" action="${escapeHtml(input.path)}" role="search">
<div><label for="repository">Find a repository in every region</label>
<input type="search" id="repository" name="repository" value="${escapeHtml(query)}" placeholder="group/project" autocomplete="off"></div>
<button type="submit">Search</button>
</form>
${input.search === undefined ? '' : searchResults(input.search)}
${overview}
${status.regions.map((region) => regionSection(region, sloMs, now)).join('\n')}
</main>
<footer><p>Health: <strong>unhealthy</strong> means something waits for an operator (permanent failures, damage verification could not repair, dead letters); <strong>degraded</strong> means it recovers by itself or is slower than the objective; <strong>unreachable</strong> means the region's registry did not answer. JSON: <a href="${escapeHtml(input.path.replace(/\/?$/, '/'))}status.json">status.json</a>.</p></footer>
</body>
</html>
`;
}
