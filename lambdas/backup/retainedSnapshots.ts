/** How many snapshots to keep: the newest of each of the last N hours, and of each of the last M days. */
export interface RetentionPolicy {
  readonly hourlyForHours: number;
  readonly dailyForDays: number;
}

/**
 * Which snapshots a retention policy keeps, given their times: the newest snapshot of each of the
 * last `hourlyForHours` hours and of each of the last `dailyForDays` days (UTC), and always the
 * newest of all. Answers the kept ids.
 */
export function retainedSnapshots(snapshots: readonly { id: string; at: Date }[], now: Date, policy: RetentionPolicy): Set<string> {
  const newestFirst = [...snapshots].sort((a, b) => b.at.getTime() - a.at.getTime());
  const kept = new Set<string>();
  if (newestFirst[0] !== undefined) kept.add(newestFirst[0].id);
  const keepNewestPer = (bucketMs: number, count: number): void => {
    const seen = new Set<number>();
    const oldest = Math.floor(now.getTime() / bucketMs) - count + 1;
    for (const snapshot of newestFirst) {
      const bucket = Math.floor(snapshot.at.getTime() / bucketMs);
      if (bucket < oldest || seen.has(bucket)) continue;
      seen.add(bucket);
      kept.add(snapshot.id);
    }
  };
  keepNewestPer(3600_000, policy.hourlyForHours);
  keepNewestPer(86_400_000, policy.dailyForDays);
  return kept;
}
