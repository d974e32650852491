// What a few texts that keep coming back (detectors' metadata) came to, so that each is worked out
// once. A plain map emptied when full: a hit is one lookup (an LRU's reordering cost more than the
// work it saves). Texts longer than `maxLength` are never kept (they are unusual).
export class TextCache<V> {
  private readonly known = new Map<string, V>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxLength: number,
  ) {}

  get(text: string): V | undefined {
    return text.length <= this.maxLength ? this.known.get(text) : undefined;
  }

  set(text: string, value: V): void {
    if (text.length > this.maxLength) return;
    if (this.known.size >= this.maxEntries) this.known.clear();
    this.known.set(text, value);
  }
}
