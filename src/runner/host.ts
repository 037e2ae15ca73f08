import { arch, hostname, platform } from 'node:os';

/** GitHub's names for this machine, used for `runner.os`, `RUNNER_OS`, labels. */
export interface HostDescription {
  readonly os: 'Linux' | 'macOS' | 'Windows';
  readonly arch: 'X64' | 'ARM64' | 'X86' | 'ARM';
  readonly name: string;
}

export function describeHost(name = hostname()): HostDescription {
  const os = platform() === 'darwin' ? 'macOS' : platform() === 'win32' ? 'Windows' : 'Linux';
  const cpu = arch();
  const githubArch = cpu === 'arm64' ? 'ARM64' : cpu === 'ia32' ? 'X86' : cpu === 'arm' ? 'ARM' : 'X64';
  return { os, arch: githubArch, name };
}

const hostedLabels: Record<HostDescription['os'], readonly string[]> = {
  Linux: ['ubuntu-latest', 'ubuntu-24.04', 'ubuntu-22.04', 'ubuntu-20.04'],
  macOS: ['macos-latest', 'macos-15', 'macos-14', 'macos-13'],
  Windows: ['windows-latest', 'windows-2025', 'windows-2022'],
};

/**
 * Labels of a runner on this machine: `self-hosted`, `local` (local mode only), its OS and arch as
 * GitHub names them, the hosted labels for its OS (so workflows written for GitHub run unchanged;
 * `hosted: false` leaves them out, for a fleet where `ubuntu-latest` must mean a machine that really
 * is one), and any extra ones.
 */
export function runnerLabels(
  host: HostDescription,
  extra: readonly string[] = [],
  options: { local?: boolean; hosted?: boolean } = {},
): string[] {
  const labels = [
    'self-hosted',
    ...(options.local === false ? [] : ['local']),
    host.os.toLowerCase(),
    host.arch.toLowerCase(),
    ...(options.hosted === false ? [] : hostedLabels[host.os]),
  ];
  // Once each ignoring case, as matching ignores it: `--labels Linux` is the derived `linux`, not a
  // second label beside it in the runner list.
  const have = new Set(labels);
  for (const label of extra) {
    if (have.has(label.toLowerCase())) continue;
    have.add(label.toLowerCase());
    labels.push(label);
  }
  return labels;
}
