/**
 * @fileoverview Progress of long runs on stderr: on a terminal one line redrawn in place with
 * the count and an ETA; otherwise (logs, CI) a plain line every few seconds.
 */
import type { Io } from './command.js';

/** `1m05s`, `42s`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export class Progress {
  private readonly start: number;
  private last: number;
  private drawn = false;

  constructor(
    private readonly io: Io,
    private readonly label: string,
    private readonly total: number,
    private readonly now: () => number = Date.now,
    /** Minimum time between redraws (TTY) or printed lines (otherwise). */
    private readonly interval = io.isTTY ? 100 : 5000,
  ) {
    this.start = now();
    this.last = this.start;
  }

  /** `done` of `total` finished; `current` names what runs next. */
  update(done: number, current = ''): void {
    const t = this.now();
    if (t - this.last < this.interval || done >= this.total) return;
    this.last = t;
    const eta = done > 0 ? ` ETA ${formatDuration(((t - this.start) / done) * (this.total - done))}` : '';
    const pct = Math.floor((100 * done) / this.total);
    const line = `${this.label}: ${done}/${this.total} (${pct}%)${eta}`;
    if (this.io.isTTY) {
      this.io.stderr(`\r\x1b[K${line}${current ? ` ${current}` : ''}`);
      this.drawn = true;
    } else {
      this.io.stderr(`${line}\n`);
    }
  }

  /** Clear the redrawn line (TTY) so the final summary starts clean. */
  finish(): void {
    if (this.drawn) this.io.stderr('\r\x1b[K');
    this.drawn = false;
  }
}
