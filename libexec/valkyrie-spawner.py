# The Python spawner: starts step processes for a Valkyrie engine, which talks to it over this
# process's stdin (requests) and stdout (replies); its own errors go to stderr. It speaks the same
# frames as libexec/valkyrie-spawner.pl, which documents them (adopt and forget requests included);
# only how a step starts differs.
#
# Why Python as well as Perl: from 3.10 on, subprocess starts a child with vfork(), which shares
# this process's memory with the child until it calls exec, where Perl's fork() copies the page
# tables and then takes a copy-on-write fault for every page either side writes. Measured on a
# 2-core VM, 1,000 `bash -e` steps one after another: 4.7 s from here, 6.6 s from Perl, 6.2 s from
# Node. os.posix_spawn() is as fast but leaves glibc's two internal signals ignored in the child,
# where Node's steps and Perl's have every signal at its default; subprocess resets them as Node does.
#
# Core Python only, 3.10 or newer; an older one, or one without those modules, exits with status 3
# before saying ready, which the engine takes as "this spawner cannot run here" and says so itself
# (an engine that falls back to another spawner has nothing to print). Syntax stays old enough for
# that check to run.
#
# When the engine is gone (stdin closes, a reply cannot be written, or SIGTERM from an engine that
# is exiting) it stops the steps still running before it exits, as the other spawners do; see
# engine_gone().
import sys

if sys.version_info < (3, 10):
    sys.exit(3)

# A trimmed install (a distribution's minimal package) may lack one; the engine then does without.
try:
    import errno
    import os
    import select
    import signal
    import stat
    import struct
    import subprocess
    import time
except ImportError:
    sys.exit(3)

try:
    import _posixsubprocess
except ImportError:
    _posixsubprocess = None

READ_SIZE = 65536
# After a step exits, how long its pipes may stay open (a background process holding them) before
# they are abandoned and the step reported drained.
DRAIN_GRACE_SECONDS = 0.2
# When the engine is gone: how long the steps' process groups have after SIGTERM, before SIGKILL.
STOP_GRACE_SECONDS = 1.0


class Child:
    __slots__ = ('id', 'process', 'fds', 'open', 'exited', 'grace_until')

    def __init__(self, id, process, fds):
        self.id = id
        self.process = process
        self.fds = fds
        self.open = len(fds)
        self.exited = False
        self.grace_until = None


children = {}  # pid -> Child
# Groups handed over by adopt until forget, apart from children: a late forget must not drop a newer
# step of ours that got the number.
adopted = set()
by_fd = {}  # fd of a pipe still read -> (Child, b'O' or b'E')
replies = bytearray()
requests = bytearray()
poller = select.poll()
dev_null = os.open('/dev/null', os.O_RDONLY | os.O_CLOEXEC)


def reply(kind, id, payload=b''):
    replies.extend(struct.pack('>IcI', 5 + len(payload), kind, id))
    replies.extend(payload)


# Blocking: a slow engine holds the steps back through their pipes, and that is all it does.
def flush_replies():
    while replies:
        try:
            written = os.write(1, replies)
        except BlockingIOError:
            select.select([], [1], [])
            continue
        except OSError:
            engine_gone()  # EPIPE: nobody is left to report to
        del replies[:written]


# The engine is gone. Its steps would run on with nobody to report to, beside the copy of the job
# that a resumed run, or another runner once the lease expires, starts again; so every step's
# process group (each step leads its own) gets SIGTERM, and SIGKILL once the grace runs out.
def engine_gone():
    groups = list(children) + list(adopted)
    signal_groups(groups, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while any(group_alive(group) for group in groups) and time.monotonic() < deadline:
        time.sleep(0.01)
    signal_groups(groups, signal.SIGKILL)
    os._exit(0)


def signal_groups(groups, signum):
    for group in groups:
        try:
            os.killpg(group, signum)
        except OSError:
            pass


# A group whose members have all exited is gone once its zombies are reaped, so reap first.
def group_alive(group):
    try:
        while os.waitpid(-1, os.WNOHANG)[0] != 0:
            pass
    except ChildProcessError:
        pass
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False
    except OSError:
        return True


# Reports a failed spawn the way Node's spawn() words it, "spawn COMMAND CODE".
def fail(id, command, error_number):
    code = errno.errorcode.get(error_number, '').encode()
    reason = code if code else b'Unknown system error -%d' % error_number
    reply(b'F', id, code + b'\0spawn ' + command + b' ' + reason)


# A step's variables go to exec as they came, NAME=value strings in the order given, as Node passes
# them; a mapping of them is made only for Popen, on a Python whose fork_exec is not known (building
# one and its list again cost ~15 us a step with a CI job's 60-odd variables). A name cannot hold
# '=': Node's NAME=value string for one that does reads back as the name up to its first '=', and so
# does this.
def environment(variables):
    env = {}
    for variable in variables:
        name, _, value = variable.partition(b'=')
        env[name] = value
    return env


# The step's PATH as execvp() in the child of Node's spawn() reads it: the first PATH variable's
# value; None without one.
def search_path(variables):
    for variable in variables:
        if variable[:5] == b'PATH=':
            return variable[5:]
    return None


# Where execvp() would find `command` for a step in `cwd`, as Node's spawn() and Perl's exec find
# it: with a slash, itself; else the first executable regular file of that name on the step's PATH
# (Node's default path without one; an empty entry is the working directory, and a relative one is
# relative to it). None when there is none: subprocess's own search then fails the way the child
# does, on the working directory first. Done here rather than by subprocess, which tries every
# entry in turn and runs no #!-less file with sh, where execvp() runs the first one it finds.
def find_command(command, cwd, variables):
    if b'/' in command:
        return command
    path = search_path(variables)
    for directory in (b'/usr/bin:/bin' if path is None else path).split(b':'):
        # What os.path.join() makes of these, without its cost on every entry of every step's PATH.
        directory = directory or b'.'
        path = directory + command if directory.endswith(b'/') else directory + b'/' + command
        full = path if path.startswith(b'/') else os.path.join(cwd, path)
        # access() first: it answers a missing file without the exception os.stat() would raise.
        if not os.access(full, os.X_OK):
            continue
        try:
            mode = os.stat(full).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode):
            return path
    return None


def start(argv, executable, cwd, variables, out_w, err_w):
    if FORK_EXEC_TAIL is not None:
        return start_directly(argv, executable, cwd, variables, out_w, err_w)
    return subprocess.Popen(
        argv,
        executable=executable,
        stdin=dev_null,
        stdout=out_w,
        stderr=err_w,
        cwd=cwd,
        env=environment(variables),
        # What the engine inherited without close-on-exec passes on, as with Node's spawn() and Perl;
        # every descriptor this process opens is close-on-exec (PEP 446).
        close_fds=False,
        # Its own session and process group, as with the other launchers; SIGPIPE and SIGXFSZ,
        # which Python ignores, back at their defaults.
        start_new_session=True,
        restore_signals=True,
    )


# What Popen above passes to _posixsubprocess.fork_exec, which starts the child (with vfork), after
# the descriptors and flags, for the versions whose argument list is known; on any other steps start
# through Popen. Popen's own work around that call costs as much as the call (~0.13 ms a step with a
# CI job's 60-odd variables: it encodes every name again and searches it for '=', a search that
# raises and clears a TypeError inside bytes.__contains__).
def fork_exec_tail(version):
    # gid, extra_groups, uid, umask, preexec_fn: none.
    ids = (None, None, None, -1, None)
    if version == (3, 10):
        return ids
    if (3, 11) <= version <= (3, 13):
        # process_group first (-1: none of its own, the new session makes it), allow_vfork last.
        return (-1,) + ids + (True,)
    return None


FORK_EXEC_TAIL = None if _posixsubprocess is None else fork_exec_tail(sys.version_info[:2])


# What the rest of this file uses of a Popen: the pid, and the returncode reap() records.
class Started:
    __slots__ = ('pid', 'returncode')

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None


def start_directly(argv, executable, cwd, variables, out_w, err_w):
    if executable is None:
        # As Popen without one: every entry of the step's PATH in turn, each failing as the child does.
        path = search_path(variables)
        search = os.get_exec_path({} if path is None else {b'PATH': path})
        executables = tuple(os.path.join(os.fsencode(d), argv[0]) for d in search)
    else:
        executables = (executable,)
    errpipe_read, errpipe_write = os.pipe()
    try:
        try:
            pid = _posixsubprocess.fork_exec(
                argv, executables, False, (errpipe_write,), cwd, variables,
                dev_null, -1, -1, out_w, -1, err_w, errpipe_read, errpipe_write,
                True, True, *FORK_EXEC_TAIL,
            )
        finally:
            os.close(errpipe_write)
        # Nothing but EOF once the child has called exec, which closed the other end (close-on-exec).
        failure = bytearray()
        while True:
            part = os.read(errpipe_read, 50000)
            failure += part
            if not part or len(failure) > 50000:
                break
    finally:
        os.close(errpipe_read)
    if not failure:
        return Started(pid)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    # "OSError:<hex errno>:<where>", as the child reports it to Popen, which raises the same.
    try:
        _, hex_errno, message = bytes(failure).split(b':', 2)
        error_number = int(hex_errno, 16)
    except ValueError:
        raise subprocess.SubprocessError('bad exception data from the child: %r' % bytes(failure))
    if error_number:
        raise OSError(error_number, os.strerror(error_number))
    raise subprocess.SubprocessError(message.decode('ascii', 'replace'))


def spawn(id, command, cwd, args, variables):
    try:
        out_r, out_w = os.pipe()
    except OSError as error:
        fail(id, command, error.errno)
        return
    try:
        err_r, err_w = os.pipe()
    except OSError as error:
        os.close(out_r)
        os.close(out_w)
        fail(id, command, error.errno)
        return
    try:
        executable = find_command(command, cwd, variables)
        try:
            process = start([command] + args, executable, cwd, variables, out_w, err_w)
        except OSError as error:
            # A file without #! is run by sh, as execvp() does it and Node's and Perl's steps get.
            if error.errno != errno.ENOEXEC or executable is None:
                raise
            process = start([b'/bin/sh', executable] + args, b'/bin/sh', cwd, variables, out_w, err_w)
    except (OSError, subprocess.SubprocessError) as error:
        for fd in (out_r, out_w, err_r, err_w):
            os.close(fd)
        fail(id, command, getattr(error, 'errno', None) or errno.EINVAL)
        return
    os.close(out_w)
    os.close(err_w)
    child = Child(id, process, (out_r, err_r))
    children[process.pid] = child
    for fd, kind in ((out_r, b'O'), (err_r, b'E')):
        by_fd[fd] = (child, kind)
        poller.register(fd, select.POLLIN)
    reply(b'S', id, struct.pack('>I', process.pid))


def drained(child):
    for fd in child.fds:
        entry = by_fd.get(fd)
        # read_pipe() closed a pipe of this child at its EOF already, and its number may be a newer
        # step's pipe by now: closing that would kill the newer step with SIGPIPE at its next write.
        if entry is not None and entry[0] is child:
            del by_fd[fd]
            poller.unregister(fd)
            os.close(fd)
    child.open = 0
    del children[child.process.pid]
    # The engine forgets a group once it is empty, and would otherwise ask the kernel itself; an empty
    # group stays empty (nothing can join a group with no member), so this answer holds for good.
    try:
        os.kill(-child.process.pid, 0)
        group_gone = 0
    except ProcessLookupError:
        group_gone = 1
    except OSError:
        group_gone = 0
    reply(b'D', child.id, bytes((group_gone,)))


def read_pipe(fd):
    entry = by_fd.get(fd)
    if entry is None:
        return
    child, kind = entry
    try:
        data = os.read(fd, READ_SIZE)
    except BlockingIOError:
        return
    if data:
        reply(kind, child.id, data)
        return
    del by_fd[fd]
    poller.unregister(fd)
    os.close(fd)
    child.open -= 1
    if child.open == 0 and child.exited:
        drained(child)


def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        child = children.get(pid)
        if child is None:
            continue
        # Told here, so that subprocess never waits for a pid that is gone (and maybe reused).
        child.process.returncode = os.waitstatus_to_exitcode(status)
        if os.WIFSIGNALED(status):
            exit_payload = struct.pack('>iB', -1, os.WTERMSIG(status))
        else:
            exit_payload = struct.pack('>iB', os.WEXITSTATUS(status), 0)
        reply(b'X', child.id, exit_payload)
        child.exited = True
        if child.open == 0:
            drained(child)
        else:
            child.grace_until = time.monotonic() + DRAIN_GRACE_SECONDS


def parse_requests():
    while len(requests) >= 4:
        (length,) = struct.unpack_from('>I', requests)
        if len(requests) < 4 + length:
            return
        fields = bytes(requests[4 : 4 + length]).split(b'\0')
        del requests[: 4 + length]
        if fields[0] in (b'adopt', b'forget'):
            group_request(fields)
            continue
        argc = int(fields[3])
        spawn(int(fields[0]), fields[1], fields[2], fields[4 : 4 + argc], fields[4 + argc :])
        # Replies go out as they are ready: the engine starts supervising a step when it hears of it.
        flush_replies()


def group_request(fields):
    # Never 0 or 1: killpg(1) and kill(-1) reach far more than a step.
    if len(fields) != 2 or not fields[1].isdigit() or int(fields[1]) <= 1:
        return
    if fields[0] == b'adopt':
        adopted.add(int(fields[1]))
    else:
        adopted.discard(int(fields[1]))


def read_requests():
    try:
        data = os.read(0, READ_SIZE)
    except BlockingIOError:
        return
    except OSError:
        data = b''
    if not data:
        engine_gone()
    requests.extend(data)
    parse_requests()


# How long poll() may sleep, in ms: until the first drain grace runs out, else until something
# happens. A step's exit always wakes it: SIGCHLD writes to the wake-up pipe, which poll() watches.
def poll_timeout():
    graces = [child.grace_until for child in children.values() if child.grace_until is not None]
    if not graces:
        return None
    return max(0.0, min(graces) - time.monotonic()) * 1000


def end_graces():
    now = time.monotonic()
    for child in list(children.values()):
        if child.grace_until is not None and child.grace_until <= now:
            drained(child)


def main():
    # Steps inherit the signal mask (subprocess restores this one in the child); make sure it is empty.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    # The handler is there so SIGCHLD is caught (the wake-up pipe only hears caught signals); the
    # children are reaped by reap() below.
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    # What an exiting engine sends (SpawnerProcess); its steps go with it.
    signal.signal(signal.SIGTERM, lambda signum, frame: engine_gone())
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    poller.register(0, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    reply(b'R', 0)
    flush_replies()
    while True:
        events = poller.poll(poll_timeout())
        requests_ready = False
        for fd, _ in events:
            if fd == 0:
                requests_ready = True
            elif fd == wake_r:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            else:
                read_pipe(fd)
        reap()
        end_graces()
        flush_replies()
        if requests_ready:
            read_requests()


main()
