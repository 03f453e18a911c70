// Lists: an async iterator that follows `cursor` until `has_more` is false, one page at a time.

/** The page shape every list endpoint shares. */
export interface PageShape {
  cursor?: string | null;
  has_more?: boolean;
}

export type PageFetcher<P> = (cursor: string | undefined) => Promise<P>;

/**
 * The items of a list, fetched one page at a time as you iterate:
 *
 * ```js
 * for await (const secret of client.secrets.list({ prefix: "app/" })) console.log(secret.path);
 * ```
 *
 * A list of any length never sits in memory whole (unless you ask for {@link toArray}).
 */
export class Paginator<T, P extends PageShape = PageShape> implements AsyncIterable<T> {
  readonly #fetchPage: PageFetcher<P>;
  readonly #items: (page: P) => readonly T[];
  readonly #start: string | undefined;

  constructor(fetchPage: PageFetcher<P>, items: (page: P) => readonly T[], cursor?: string) {
    this.#fetchPage = fetchPage;
    this.#items = items;
    this.#start = cursor;
  }

  /** The raw pages (with `cursor`, `has_more` and any totals), one request each. */
  async *pages(): AsyncGenerator<P, void, undefined> {
    let cursor = this.#start;
    for (;;) {
      const page = await this.#fetchPage(cursor);
      yield page;
      const next = page.cursor ?? undefined;
      // A page without `has_more` (or without a cursor to follow) is the last one.
      if (page.has_more !== true || next === undefined || next === cursor) return;
      cursor = next;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const page of this.pages()) {
      yield* this.#items(page);
    }
  }

  /** Every item of every page, in one array. */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const item of this) out.push(item);
    return out;
  }

  /** The first page's raw answer only. */
  async firstPage(): Promise<P> {
    return this.#fetchPage(this.#start);
  }
}
