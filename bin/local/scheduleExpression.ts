const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** Whether a value matches one field of an EventBridge cron expression (`*`, `?`, lists, ranges, steps, names). */
function fieldMatches(field: string, value: number, min: number, names: readonly string[] = [], nameBase = 0): boolean {
  if (field === '*' || field === '?') return true;
  const parse = (token: string): number => {
    const index = names.indexOf(token.toUpperCase());
    return index >= 0 ? index + nameBase : Number.parseInt(token, 10);
  };
  return field.split(',').some((part) => {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number.parseInt(stepText, 10);
    let low: number;
    let high: number;
    if (range === '*' || range === undefined) [low, high] = [min, Number.MAX_SAFE_INTEGER];
    else if (range.includes('-')) [low, high] = range.split('-').map(parse) as [number, number];
    else [low, high] = [parse(range), stepText === undefined ? parse(range) : Number.MAX_SAFE_INTEGER];
    return value >= low && value <= high && (value - low) % step === 0;
  });
}

/**
 * The next time an EventBridge schedule fires after `from`: `rate(N unit)` counts from
 * `from`; `cron(min hour dom month dow year)` is evaluated in UTC, minute by minute.
 */
export function nextFire(expression: string, from: Date): Date {
  const rate = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (rate) {
    const unit = rate[2]!.startsWith('minute') ? 60_000 : rate[2]!.startsWith('hour') ? 3_600_000 : 86_400_000;
    return new Date(from.getTime() + Number(rate[1]) * unit);
  }
  const cron = /^cron\((.+)\)$/.exec(expression.trim());
  if (!cron) throw new Error(`unsupported schedule expression ${expression}`);
  const fields = cron[1]!.trim().split(/\s+/);
  if (fields.length !== 6) throw new Error(`cron needs six fields: ${expression}`);
  const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = fields as [string, string, string, string, string, string];
  const candidate = new Date(Math.floor(from.getTime() / 60_000) * 60_000 + 60_000);
  for (let i = 0; i < 366 * 24 * 60; i++) {
    if (
      fieldMatches(minutes, candidate.getUTCMinutes(), 0) &&
      fieldMatches(hours, candidate.getUTCHours(), 0) &&
      fieldMatches(dayOfMonth, candidate.getUTCDate(), 1) &&
      fieldMatches(month, candidate.getUTCMonth() + 1, 1, MONTH_NAMES, 1) &&
      fieldMatches(dayOfWeek, candidate.getUTCDay() + 1, 1, DAY_NAMES, 1) &&
      fieldMatches(year, candidate.getUTCFullYear(), 1970)
    ) {
      return candidate;
    }
    candidate.setTime(candidate.getTime() + 60_000);
  }
  throw new Error(`schedule ${expression} does not fire within a year`);
}
