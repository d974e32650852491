// A task that runs in the background at most once at a time: asked again while it runs, it runs
// once more right after (however many times it was asked meanwhile). For work that reads "what is
// there now" (the live feed's next changes, due webhook deliveries, a retention sweep).
export class Coalesced {
  private running: Promise<void> | null = null;
  private again = false;

  /** `task` handles its own errors (a rejection is dropped). */
  constructor(private readonly task: () => Promise<void>) {}

  run(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.task()
      .catch(() => {})
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.run();
        }
      });
  }

  /** Resolves once no run is in progress. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}
