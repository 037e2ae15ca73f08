#!/usr/bin/perl
# The Perl spawner: forks step processes for a Valkyrie engine, which talks to it over this
# process's stdin (requests) and stdout (replies); its own errors go to stderr. A fork copies the
# page tables of the process calling it, and this one is a few MB where a Node process is tens,
# so each step starts for less than half the CPU. Core Perl only (perl-base on Debian).
#
# The framing, both ways: a 4-byte big-endian length, then that many bytes of body.
# Request body, fields joined by NUL, which no argument or variable can hold; one of:
#   a spawn: id (decimal), command, cwd, argument count, the arguments, then NAME=value for each
#     variable;
#   adopt, pgid (decimal): the process group of a step the engine started itself (while no spawner
#     was ready), to stop with this spawner's own steps when the engine is gone; no reply;
#   forget, pgid: that step has ended, drop its group (its number may be reused); no reply.
# Reply body: one type byte, a 4-byte big-endian request id, then by type:
#   R ready (id 0) | S spawned: 4-byte pid | F failed: errno code, NUL, message
#   O / E a chunk of stdout / stderr | X exit: 4-byte signed code (-1 if signalled), 1-byte signal
#   D drained: both pipes closed, or were abandoned 200 ms after the exit; 1-byte flag, 1 when the
#     step's process group had no member left (see drained()), else 0.
# Per id: S or F; then O, E and X as they happen; then D. src/executors/shell/spawner/script-frames.ts
# is the other end; the requests' meaning is in protocol.ts there.
#
# When the engine is gone (stdin closes, a reply cannot be written, or SIGTERM from an engine that
# is exiting) it stops the steps still running before it exits, as the other spawners do; see
# engine_gone().
use 5.010;
use strict;
use warnings;
# POSIX's XS functions only, without POSIX.pm: the module's export tables double this process's
# anonymous memory (0.5 to 2.5 MB), and every fork() copies the page tables of that memory and then
# takes a copy-on-write fault for each page either side writes. Loaded this way a spawn costs about
# 0.1 ms less CPU. Everything used below (setsid, dup2, _exit, sigprocmask, SigSet, sysconf, times
# and the constants) is XS.
require XSLoader;
XSLoader::load('POSIX');

$0 = 'valkyrie-spawner';

my $read_size = 65536;
my $ticks_per_second = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
# The drain grace, and how long select() may sleep at most while a child is unreaped: SIGCHLD
# interrupts select(), but one arriving just before the call is only handled after it.
my $drain_grace_ticks = int(0.2 * $ticks_per_second + 0.5) || 1;
my $safety_net_seconds = 0.05;
# When the engine is gone: how long the steps' process groups have after SIGTERM, before SIGKILL.
my $stop_grace_ticks = int(1.0 * $ticks_per_second + 0.5);

# Reaped by waitpid() below; the handler is there so SIGCHLD interrupts select().
$SIG{CHLD} = sub { };
# A write to an engine that is gone fails with EPIPE instead, and the loop exits. Caught rather
# than ignored: exec resets a caught signal to its default, and steps must get SIGPIPE as usual.
$SIG{PIPE} = sub { };
# What an exiting engine sends (SpawnerProcess); its steps go with it.
$SIG{TERM} = sub { engine_gone() };
# Steps inherit the signal mask; make sure it is empty. (Perl blocks a signal only while it runs
# its handler, and steps are never forked from one.)
POSIX::sigprocmask(POSIX::SIG_SETMASK(), POSIX::SigSet->new());
# Every step's stdin, opened once (close-on-exec: the child dup2()s it to 0).
open(my $dev_null, '<', '/dev/null') or die "valkyrie-spawner: /dev/null: $!\n";

my %children;    # pid => child; a child is a hash, see spawn()
my %adopted;     # pgid => 1: groups handed over by adopt until forget (apart: see parse_requests)
my %by_fd;       # fileno of a pipe still read => [child, 'O' or 'E', handle]
my $replies = '';
my $requests = '';

sub now_ticks { return (POSIX::times())[0] }

sub reply {
  my ($type, $id, $payload) = @_;
  $replies .= pack('NaN', 5 + length($payload), $type, $id) . $payload;
}

# Blocking: a slow engine holds the steps back through their pipes, and that is all it does.
sub flush_replies {
  while (length $replies) {
    my $written = syswrite(STDOUT, $replies);
    if (!defined $written) {
      next if $! == POSIX::EINTR() || $! == POSIX::EAGAIN();
      engine_gone();    # EPIPE: nobody is left to report to
    }
    substr($replies, 0, $written, '');
  }
}

# The engine is gone. Its steps would run on with nobody to report to, beside the copy of the job
# that a resumed run, or another runner once the lease expires, starts again; so every step's
# process group (each step leads its own) gets SIGTERM, and SIGKILL once the grace runs out.
sub engine_gone {
  my @groups = (keys %children, keys %adopted);
  kill('TERM', -$_) for @groups;
  my $deadline = now_ticks() + $stop_grace_ticks;
  while ((grep { group_alive($_) } @groups) && now_ticks() < $deadline) {
    select(undef, undef, undef, 0.01);
  }
  kill('KILL', -$_) for @groups;
  POSIX::_exit(0);
}

# A group whose members have all exited is gone once its zombies are reaped, so reap first.
sub group_alive {
  my ($group) = @_;
  1 while waitpid(-1, POSIX::WNOHANG()) > 0;
  return kill(0, -$group) || !$!{ESRCH};
}

sub errno_code {
  my ($errno) = @_;
  local $! = $errno;
  for my $name (keys %!) { return $name if $!{$name} }
  return '';
}

# Reports a failed spawn the way Node's spawn() words it, "spawn COMMAND CODE".
sub fail {
  my ($id, $command, $errno) = @_;
  my $code = errno_code($errno);
  my $message = 'spawn ' . $command . ' ' . ($code ne '' ? $code : "Unknown system error -$errno");
  reply('F', $id, $code . "\0" . $message);
}

# In the forked child: become the step, or report why not on the status pipe (close-on-exec, so
# an exec that works closes it with nothing written), then exit without touching the parent's state.
# The parent has set the working directory and environment: memory a child writes before exec is
# copied page by page, so the child does as little as it can.
sub become_step {
  my ($request, $stdout, $stderr, $status) = @_;
  my $errno = eval {
    POSIX::setsid();
    POSIX::dup2(fileno($dev_null), 0);
    POSIX::dup2(fileno($stdout), 1);
    POSIX::dup2(fileno($stderr), 2);
    my $command = $request->{command};
    { no warnings; exec {$command} $command, @{ $request->{args} }; }
    return $! + 0;
  };
  $errno = POSIX::EINVAL() unless $errno;
  syswrite($status, pack('N', $errno));
  POSIX::_exit(127);
}

# The NAME=value list %ENV was last built from; undef before the first spawn.
my $environment_from;

# Builds %ENV from NAME=value strings, in their order. Consecutive steps mostly differ in a few values
# (the job's name, its files), so when the names are the same ones in the same order only the values
# that changed are set: a variable set again keeps its place, so the result is what clearing %ENV and
# setting every variable gives, for a fraction of the cost (~0.15 ms a spawn with 60 variables).
sub set_environment {
  my ($variables) = @_;
  my $changed = changed_variables($variables);
  if (!defined $changed) {
    %ENV = ();
    $changed = $variables;
  }
  for my $variable (@$changed) {
    my ($name, $value) = split /=/, $variable, 2;
    $ENV{$name} = $value // '';
  }
  $environment_from = [@$variables];
}

# The variables whose values differ from the last list's, or undef unless the two lists name the
# same variables in the same order.
sub changed_variables {
  my ($variables) = @_;
  return undef if !defined $environment_from || @$variables != @$environment_from;
  my @changed;
  for my $i (0 .. $#$variables) {
    my $variable = $variables->[$i];
    next if $variable eq $environment_from->[$i];
    my ($name) = split /=/, $variable, 2;
    my ($name_before) = split /=/, $environment_from->[$i], 2;
    return undef if $name ne $name_before;
    push @changed, $variable;
  }
  return \@changed;
}

sub spawn {
  my ($request) = @_;
  my $id = $request->{id};
  # Done here for the child (see become_step). A directory that cannot be entered fails the spawn
  # with chdir's errno, as in libuv's child; the variables go in in the order given, as Node's do.
  if (!chdir($request->{cwd})) {
    fail($id, $request->{command}, $! + 0);
    return;
  }
  set_environment($request->{env});
  # Perl sets close-on-exec on every descriptor it opens past 2 ($^F), so no step inherits another's
  # pipes, nor its own status pipe.
  my ($out_r, $out_w, $err_r, $err_w, $status_r, $status_w);
  if (!pipe($out_r, $out_w) || !pipe($err_r, $err_w) || !pipe($status_r, $status_w)) {
    fail($id, $request->{command}, $! + 0);
    return;
  }
  my $pid = fork();
  if (!defined $pid) {
    fail($id, $request->{command}, $! + 0);
    return;
  }
  become_step($request, $out_w, $err_w, $status_w) if $pid == 0;
  close $out_w;
  close $err_w;
  close $status_w;
  # Wait for the exec, as libuv does, so a command that cannot run is a failed spawn and never
  # a process that exited 127.
  my ($status, $got);
  do { $got = sysread($status_r, $status, 4) } while (!defined $got && $! == POSIX::EINTR());
  close $status_r;
  # Not to keep the step's directory busy until the next spawn.
  chdir('/');
  if ($got && $got == 4) {
    waitpid($pid, 0);
    close $out_r;
    close $err_r;
    fail($id, $request->{command}, unpack('N', $status));
    return;
  }
  my $child = { id => $id, pid => $pid, open => 2, exited => 0, grace_until => undef, quiet_polls => 0 };
  $children{$pid} = $child;
  $by_fd{ fileno $out_r } = [ $child, 'O', $out_r ];
  $by_fd{ fileno $err_r } = [ $child, 'E', $err_r ];
  $child->{fds} = [ fileno $out_r, fileno $err_r ];
  reply('S', $id, pack('N', $pid));
}

sub drained {
  my ($child) = @_;
  for my $fd (@{ $child->{fds} }) {
    # read_pipe() closed a pipe of this child at its EOF already, and its number may be a newer step's
    # pipe by now: closing that would kill the newer step with SIGPIPE at its next write.
    my $entry = $by_fd{$fd};
    next unless $entry && $entry->[0] == $child;
    delete $by_fd{$fd};
    close $entry->[2];
  }
  $child->{open} = 0;
  delete $children{ $child->{pid} };
  # The engine forgets a group once it is empty, and would otherwise ask the kernel itself; an empty
  # group stays empty (nothing can join a group with no member), so this answer holds for good.
  my $group_gone = !kill(0, -$child->{pid}) && $!{ESRCH} ? 1 : 0;
  reply('D', $child->{id}, pack('C', $group_gone));
}

sub read_pipe {
  my ($fd) = @_;
  my $entry = $by_fd{$fd} or return;
  my ($child, $type, $handle) = @$entry;
  my $got = sysread($handle, my $data, $read_size);
  return if !defined $got && ($! == POSIX::EINTR() || $! == POSIX::EAGAIN());
  if ($got) {
    reply($type, $child->{id}, $data);
    return;
  }
  delete $by_fd{$fd};
  close $handle;
  $child->{open} -= 1;
  drained($child) if $child->{open} == 0 && $child->{exited};
}

sub reap {
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $child = $children{$pid} or next;
    my $status = $?;
    my $signal = $status & 127;
    reply('X', $child->{id}, pack('NC', $signal ? 0xFFFFFFFF : ($status >> 8) & 255, $signal));
    $child->{exited} = 1;
    if ($child->{open} == 0) { drained($child) }
    else { $child->{grace_until} = now_ticks() + $drain_grace_ticks }
  }
}

sub parse_requests {
  while (length($requests) >= 4) {
    my $length = unpack('N', $requests);
    last if length($requests) < 4 + $length;
    my @fields = split /\0/, substr($requests, 4, $length), -1;
    substr($requests, 0, 4 + $length, '');
    my $first = $fields[0] // '';
    if ($first eq 'adopt' || $first eq 'forget') {
      # Kept apart from %children: a late forget must not drop a newer step of ours with that number.
      # Never 0 or 1: kill(-1) would signal every process this one may.
      my ($word, $group) = @fields;
      next unless defined $group && $group =~ /^\d+$/ && $group > 1;
      if ($word eq 'adopt') { $adopted{$group} = 1 }
      else { delete $adopted{$group} }
      next;
    }
    my ($id, $command, $cwd, $argc) = splice(@fields, 0, 4);
    my @args = splice(@fields, 0, $argc // 0);
    spawn({ id => $id, command => $command, cwd => $cwd, args => \@args, env => \@fields });
    # Replies go out as they are ready: the engine starts supervising a step when it hears of it.
    flush_replies();
  }
}

sub read_requests {
  my $got = sysread(STDIN, $requests, $read_size, length $requests);
  return if !defined $got && ($! == POSIX::EINTR() || $! == POSIX::EAGAIN());
  engine_gone() unless $got;
  parse_requests();
}

# How long select() may sleep: until the first drain grace runs out; briefly while a child has
# closed its pipes but is not reaped yet (it is exiting, and its SIGCHLD may have come before the
# select() call); at most the safety net while any child is unreaped; else until something happens.
sub select_timeout {
  my $timeout;
  my $now;
  for my $child (values %children) {
    my $wait;
    if (defined $child->{grace_until}) {
      $now //= now_ticks();
      $wait = ($child->{grace_until} - $now) / $ticks_per_second;
      $wait = 0 if $wait < 0;
    } elsif ($child->{open} == 0) {
      $wait = 0.0002 * 2**$child->{quiet_polls};
      $child->{quiet_polls} += 1 if $wait < $safety_net_seconds;
    } else {
      $wait = $safety_net_seconds;
    }
    $wait = $safety_net_seconds if $wait > $safety_net_seconds;
    $timeout = $wait if !defined $timeout || $wait < $timeout;
  }
  return $timeout;
}

sub end_graces {
  my $now = now_ticks();
  for my $child (values %children) {
    drained($child) if defined $child->{grace_until} && $child->{grace_until} <= $now;
  }
}

binmode STDIN;
binmode STDOUT;
reply('R', 0, '');
flush_replies();
for (;;) {
  my $readable = '';
  vec($readable, 0, 1) = 1;
  vec($readable, $_, 1) = 1 for keys %by_fd;
  my $ready = select($readable, undef, undef, select_timeout());
  if ($ready > 0) {
    for my $fd (keys %by_fd) { read_pipe($fd) if vec($readable, $fd, 1) }
  }
  reap();
  end_graces();
  flush_replies();
  read_requests() if $ready > 0 && vec($readable, 0, 1);
}
