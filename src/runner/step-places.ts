import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobSpec } from '../protocol/job-spec.js';
import { isWorkspacePath, workflowTextSha256 } from '../protocol/workflow-file.js';
import { SourceMap, type YamlPath } from '../workflow/source-map.js';
import { failedStepKey } from './step-key.js';

/**
 * Where a job's step keys are in the workflow file it was planned from, for the errors of their
 * expressions: `ci.yml:9:14: the step's run: could not be evaluated: …`, as GitHub places them. The
 * spec names the file and its hash (JobSpec.workflowFile); the file is read, and parsed with the YAML
 * library that gives positions, only when an error needs a place, and used only if it is still the
 * text the job was planned from, since a file changed since would place the error wrongly.
 */
export class StepPlaces {
  private map: SourceMap | undefined | null = null;

  constructor(private readonly spec: JobSpec) {}

  /**
   * `FILE:LINE:COL: ` of step `index`'s `key` (`run`, `with`, `if`…) — for a `shell` or
   * `working-directory` the step does not set, of the job's or the workflow's `defaults.run` that it
   * came from — or '' when it cannot be placed.
   */
  of(index: number, key: string): string {
    const job = ['jobs', this.spec.key];
    const step = [...job, 'steps', index, key];
    if (key !== 'shell' && key !== 'working-directory') return this.placed(step);
    return this.placed(step, [...job, 'defaults', 'run', key], ['defaults', 'run', key]);
  }

  /** The place of the step key `error` came from (stepKey), or '' for another error. */
  ofError(index: number, error: unknown): string {
    const key = failedStepKey(error);
    return key === undefined ? '' : this.of(index, key);
  }

  /** `FILE:LINE:COL: ` of the job's output `name`, or ''. */
  ofOutput(name: string): string {
    return this.placed(['jobs', this.spec.key, 'outputs', name]);
  }

  private placed(...paths: YamlPath[]): string {
    const file = this.spec.workflowFile;
    const map = this.sourceMap();
    if (file === undefined || map === undefined) return '';
    for (const path of paths) {
      const at = map.exactPosition(path);
      if (at !== undefined) return `${file.path}:${at.line}:${at.col}: `;
    }
    return '';
  }

  private sourceMap(): SourceMap | undefined {
    if (this.map !== null) return this.map;
    this.map = undefined;
    const file = this.spec.workflowFile;
    if (file === undefined || !isWorkspacePath(file.path)) return undefined;
    let text: string;
    try {
      text = readFileSync(join(this.spec.workspace, file.path), 'utf8');
    } catch {
      return undefined;
    }
    if (workflowTextSha256(text) === file.sha256) this.map = new SourceMap(text);
    return this.map;
  }
}
