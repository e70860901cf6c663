/**
 * Progress of a demo step: a counter with rate and ETA, redrawn in place on a terminal
 * and printed every few seconds otherwise (CI logs).
 */
export class Progress {
  private done = 0;
  private readonly started = performance.now();
  private lastPrint = 0;

  constructor(
    readonly label: string,
    readonly total: number,
  ) {}

  tick(n = 1): void {
    this.done += n;
    const now = performance.now();
    if (now - this.lastPrint > (process.stdout.isTTY ? 100 : 5_000) || this.done === this.total) {
      this.lastPrint = now;
      this.print(false);
    }
  }

  private line(): string {
    const seconds = (performance.now() - this.started) / 1000;
    const rate = this.done / Math.max(seconds, 0.001);
    const width = 24;
    const filled = Math.round((this.done / Math.max(1, this.total)) * width);
    const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`;
    return `${this.label.padEnd(22)} [${bar}] ${String(this.done).padStart(6)}/${this.total}  ${rate.toFixed(0).padStart(5)}/s  ${seconds.toFixed(1)} s`;
  }

  private print(final: boolean): void {
    if (process.stdout.isTTY) process.stdout.write(`\r${this.line()}${final ? "\n" : ""}`);
    else if (final || this.done < this.total) console.log(this.line());
  }

  /** Prints the final line; returns the step's seconds and rate. */
  finish(): { seconds: number; rate: number; count: number } {
    this.print(true);
    const seconds = (performance.now() - this.started) / 1000;
    return { seconds, rate: this.done / Math.max(seconds, 0.001), count: this.done };
  }
}
