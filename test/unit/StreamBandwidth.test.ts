import { describe, expect, it } from '@jest/globals';
import { LAMBDA_STREAM_LIMITS, StreamBandwidth } from '../../bin/local/StreamBandwidth.ts';

const MiB = 2 ** 20;

function virtualClock(): { now: () => number; advance: (ms: number) => void } {
  let time = 1000;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('StreamBandwidth: the schedule Lambda streams a Function URL response on', () => {
  it('lets the first 6 MB go at once, then 2 MB a second, counted from when the burst ran out', () => {
    const clock = virtualClock();
    const bandwidth = new StreamBandwidth(LAMBDA_STREAM_LIMITS, clock);
    expect(bandwidth.admit(6 * MiB)).toEqual({ bytes: 6 * MiB, waitMs: 0, cut: false });
    // 2 MB past the burst: due one second after the burst ran out.
    expect(bandwidth.admit(2 * MiB)).toEqual({ bytes: 2 * MiB, waitMs: 1000, cut: false });
    clock.advance(1000);
    expect(bandwidth.admit(MiB)).toEqual({ bytes: MiB, waitMs: 500, cut: false });
    // A slow writer earns no credit beyond the schedule: late bytes go at once, never faster than 2 MB/s on average.
    clock.advance(10_000);
    expect(bandwidth.admit(MiB).waitMs).toBe(0);
    expect(bandwidth.bytesSent).toBe(10 * MiB);
  });

  it('a slice that crosses the end of the burst waits only for its throttled part', () => {
    const clock = virtualClock();
    const bandwidth = new StreamBandwidth(LAMBDA_STREAM_LIMITS, clock);
    expect(bandwidth.admit(5 * MiB).waitMs).toBe(0);
    expect(bandwidth.admit(2 * MiB).waitMs).toBe(500);
  });

  it('a 100 MB response takes 47 s on this schedule, as AWS would stream it', () => {
    const clock = virtualClock();
    const bandwidth = new StreamBandwidth(LAMBDA_STREAM_LIMITS, clock);
    const start = clock.now();
    for (let sent = 0; sent < 100 * MiB; sent += 64 * 1024) clock.advance(bandwidth.admit(64 * 1024).waitMs);
    expect(clock.now() - start).toBe(47_000);
  });

  it('stops at 200 MB: the bytes past it are refused and the response is cut', () => {
    const bandwidth = new StreamBandwidth(LAMBDA_STREAM_LIMITS, virtualClock());
    expect(bandwidth.admit(200 * MiB - 10)).toMatchObject({ bytes: 200 * MiB - 10, cut: false });
    expect(bandwidth.admit(10)).toMatchObject({ bytes: 10, cut: false });
    expect(bandwidth.admit(1)).toMatchObject({ bytes: 0, cut: true });
    const other = new StreamBandwidth(LAMBDA_STREAM_LIMITS, virtualClock());
    other.admit(199 * MiB);
    expect(other.admit(2 * MiB)).toMatchObject({ bytes: MiB, cut: true });
  });
});
