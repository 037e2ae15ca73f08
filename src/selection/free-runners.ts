import { newLink, type RunnerLink, RunnerList } from './runner-list.js';

/** What the index needs of a runner: its labels, lower-cased, fixed while the runner is in the index. */
export interface Labelled {
  readonly labels: ReadonlySet<string>;
}

/** A runner's links into the lists, made once per label set it has. */
interface Links<R> {
  readonly labels: ReadonlySet<string>;
  readonly all: RunnerLink<R>;
  readonly byLabel: ReadonlyMap<string, RunnerLink<R>>;
}

/**
 * The runners that have a free slot right now, indexed by label, so that finding one for a job costs
 * a walk over the smallest matching label's runners instead of over every connected runner. With
 * thousands of busy runners connected and none free, a lookup is one size check. Adding and deleting
 * a runner cost O(its labels), however often it comes and goes (see RunnerList).
 *
 * Runners are found in the order they became free (a runner that fills up and frees again goes to the
 * back), which spreads jobs across runners. A runner's labels must not change while it is in the
 * index: `delete` it, change them, `add` it again.
 */
export class FreeRunnerIndex<R extends Labelled> {
  private readonly all = new RunnerList<R>();
  /**
   * Lists left empty stay (a Map whose same few keys come and go has the Set's trouble too) until
   * they are as many as the rest, then are swept at once: memory stays bounded, the cost amortised.
   */
  private readonly byLabel = new Map<string, RunnerList<R>>();
  private emptyLists = 0;
  /** Kept while the runner lives, so that coming and going touches no hash table. */
  private readonly links = new WeakMap<R, Links<R>>();

  get size(): number {
    return this.all.size;
  }

  has(runner: R): boolean {
    return this.links.get(runner)?.all.linked === true;
  }

  /** Idempotent. */
  add(runner: R): void {
    const links = this.linksOf(runner);
    if (links.all.linked) return;
    this.all.append(links.all);
    for (const [label, link] of links.byLabel) {
      let runners = this.byLabel.get(label);
      if (runners === undefined) {
        runners = new RunnerList<R>();
        this.byLabel.set(label, runners);
      } else if (runners.size === 0) this.emptyLists--;
      runners.append(link);
    }
  }

  /** Idempotent. */
  delete(runner: R): void {
    const links = this.links.get(runner);
    if (links === undefined || !links.all.linked) return;
    this.all.unlink(links.all);
    for (const [label, link] of links.byLabel) {
      const runners = this.byLabel.get(label);
      if (runners === undefined) continue;
      runners.unlink(link);
      if (runners.size === 0) this.emptyLists++;
    }
    if (this.emptyLists > 64 && 2 * this.emptyLists > this.byLabel.size) this.sweepEmptyLists();
  }

  /** The first free runner that has every label in `required` (lower-case) and is not `excluded`. */
  find(required: readonly string[], excluded?: (runner: R) => boolean): R | undefined {
    let candidates = this.all;
    for (const label of required) {
      const runners = this.byLabel.get(label);
      if (runners === undefined || runners.size === 0) return undefined;
      if (runners.size < candidates.size) candidates = runners;
    }
    for (let link = candidates.head; link !== undefined; link = link.next) {
      const { runner } = link;
      if (excluded?.(runner)) continue;
      if (required.every((label) => runner.labels.has(label))) return runner;
    }
    return undefined;
  }

  private sweepEmptyLists(): void {
    for (const [label, runners] of this.byLabel) if (runners.size === 0) this.byLabel.delete(label);
    this.emptyLists = 0;
  }

  /** The runner's links for its current labels; new ones when its labels changed (it is not in the index then). */
  private linksOf(runner: R): Links<R> {
    const known = this.links.get(runner);
    if (known !== undefined && known.labels === runner.labels) return known;
    const byLabel = new Map<string, RunnerLink<R>>();
    for (const label of runner.labels) byLabel.set(label, newLink(runner));
    const links = { labels: runner.labels, all: newLink(runner), byLabel };
    this.links.set(runner, links);
    return links;
  }
}
