/* kubelet_spawn.c: starting a container's process, and signalling it.
 *
 * The kubelet forks a shim (what containerd-shim is to a real node); the
 * shim forks the container's process and waits for it:
 *
 *   peerop-devcluster --fork--> shim --fork--> container (exec)
 *
 * - Nothing outlives peerop-devcluster: the shim has PR_SET_PDEATHSIG
 *   (SIGKILL when the thread that forked it, its pod's worker, ends: also
 *   when peerop-devcluster is killed with -9), the container has it too
 *   (its parent is the shim), and as root the container is PID 1 of its
 *   own PID namespace, so when it dies the kernel kills everything it
 *   started. Without root, processes the container starts may outlive a
 *   kill -9 of peerop-devcluster (the graceful paths kill its process
 *   group).
 * - As root the shim also makes a mount namespace (kubelet_mounts.c: the
 *   volumes) and a UTS namespace (the hostname is the pod's name), and the
 *   container mounts its own /proc.
 * - Signals go to the shim, which forwards them to the container, so a
 *   container that is PID 1 ignores SIGTERM unless it handles it, as in a
 *   real container; SIGKILL kills the shim, and the container with it.
 * - The shim reports on a pipe: "pid N" once the container's exec
 *   succeeded, "err MESSAGE" when something failed before or at exec,
 *   "exit STATUS" (a wait status) when the container ended.
 *
 * Between fork and exec only async-signal-safe calls are made. */
#include "kubelet.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* ---- in the children ---- */

static void put_report(int fd, const char *kind, const char *msg)
{
	char line[600];
	size_t n = 0, k = strlen(kind), m = strlen(msg);
	if (k + m + 2 > sizeof(line))
		m = sizeof(line) - k - 2;
	memcpy(line, kind, k);
	n = k;
	line[n++] = ' ';
	memcpy(line + n, msg, m);
	n += m;
	/* one write of less than PIPE_BUF bytes: never interleaved */
	for (size_t i = k + 1; i < n; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	line[n++] = '\n';
	if (write(fd, line, n) < 0) {
		/* nobody to tell */
	}
}

static void report_errno(int fd, const char *what, const char *arg, int err)
{
	char msg[512];
	if (arg)
		snprintf(msg, sizeof(msg), "%s \"%s\": %s", what, arg, strerror(err));
	else
		snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
	put_report(fd, "err", msg);
}

/* In the container before exec: the message goes on the exec pipe, whose
 * end the shim reads (EOF there means exec succeeded). */
static void exec_errno(int fd, const char *what, const char *arg, int err)
{
	char msg[512];
	int n;
	if (arg)
		n = snprintf(msg, sizeof(msg), "%s \"%s\": %s", what, arg, strerror(err));
	else
		n = snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
	if (n > 0 && write(fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0) {
		/* nobody to tell */
	}
}

static void reset_signals(void)
{
	sigset_t none;
	int sig;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void forwarded_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGWINCH);
	sigaddset(set, SIGCHLD);
}

static void exec_failed(int fd, const char *prog, int err)
{
	char msg[512];
	int n;
	if (err == ENOENT && !strchr(prog, '/'))
		n = snprintf(msg, sizeof(msg), "exec: \"%s\": executable file not found in $PATH", prog);
	else
		n = snprintf(msg, sizeof(msg), "exec: \"%s\": %s", prog, strerror(err));
	if (n > 0 && write(fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0) {
		/* nobody to tell */
	}
}

static void container_main(const kl_spawn *sp, int out, int errfd, int status)
{
	const kl_exec *ex = sp->ex;
	int null;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	reset_signals();
	if (sp->namespaces) {
		/* our own /proc: ps shows the pod's processes */
		mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	} else {
		setpgid(0, 0);
	}
	null = open("/dev/null", O_RDONLY);
	if (null >= 0 && null != 0) {
		dup2(null, 0);
		close(null);
	}
	if (dup2(out, 1) < 0 || dup2(errfd, 2) < 0) {
		exec_errno(status, "dup2", NULL, errno);
		_exit(127);
	}
	if (chdir(ex->workdir ? ex->workdir : "/") != 0) {
		exec_errno(status, "chdir to the working directory", ex->workdir ? ex->workdir : "/", errno);
		_exit(127);
	}
	if (sp->gid >= 0 || sp->uid >= 0) {
		if (geteuid() == 0 && setgroups(sp->ngroups, sp->groups) != 0) {
			exec_errno(status, "setgroups", NULL, errno);
			_exit(127);
		}
		if (sp->gid >= 0 && setgid((gid_t)sp->gid) != 0) {
			exec_errno(status, "setgid", NULL, errno);
			_exit(127);
		}
		if (sp->uid >= 0 && setuid((uid_t)sp->uid) != 0) {
			exec_errno(status, "setuid", NULL, errno);
			_exit(127);
		}
		/* A change of credentials clears the parent-death signal
		 * (prctl(2)): without this, a container running as another
		 * user outlived a kill -9 of peerop-devcluster and kept its
		 * pod's address and port. Set it again, then check that the
		 * shim did not die meanwhile (its end of the exec pipe would
		 * be closed). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		{
			struct pollfd pf;
			pf.fd = status;
			pf.events = POLLOUT;
			pf.revents = 0;
			if (poll(&pf, 1, 0) == 1 && (pf.revents & (POLLERR | POLLHUP)))
				_exit(127);
		}
	}
	execve(ex->argv[0], ex->argv, ex->envp);
	exec_failed(status, ex->argv[0], errno);
	_exit(127);
}

static void shim_main(const kl_spawn *sp, pid_t kubelet, int out, int errfd, int status)
{
	sigset_t fwd;
	pid_t child;
	char msg[700];
	size_t got = 0;
	int null, ep[2];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != kubelet)
		_exit(1);
	/* what ps and top call it (its command line stays the server's) */
	prctl(PR_SET_NAME, "pod-shim");
	forwarded_set(&fwd);
	sigprocmask(SIG_SETMASK, &fwd, NULL);
	/* SIGCHLD's default disposition is to ignore it, which sigwaitinfo
	 * still reports while it is blocked */
	setsid();
	if (sp->namespaces) {
		if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS) != 0) {
			report_errno(status, "unshare", NULL, errno);
			_exit(1);
		}
		/* a pod whose hostname cannot be set would report another's */
		if (sp->hostname && sethostname(sp->hostname, strlen(sp->hostname)) != 0) {
			report_errno(status, "sethostname", NULL, errno);
			_exit(1);
		}
		if (kl_fs_setup(sp->fs, msg, sizeof(msg)) != 0) {
			put_report(status, "err", msg);
			_exit(1);
		}
	}
	if (pipe2(ep, O_CLOEXEC) != 0) {
		report_errno(status, "pipe", NULL, errno);
		_exit(1);
	}
	child = fork();
	if (child < 0) {
		report_errno(status, "fork", NULL, errno);
		_exit(1);
	}
	if (child == 0) {
		close(ep[0]);
		close(status);
		container_main(sp, out, errfd, ep[1]);
	}
	/* the shim keeps no copy of the output pipes: EOF means every
	 * process of the container has closed them */
	close(out);
	close(errfd);
	close(ep[1]);
	/* the exec pipe closes on a successful exec, or carries why not */
	for (;;) {
		ssize_t n = read(ep[0], msg + got, sizeof(msg) - 1 - got);
		if (n > 0 && got + (size_t)n < sizeof(msg) - 1) {
			got += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	close(ep[0]);
	msg[got] = '\0';
	if (got)
		put_report(status, "err", msg);
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	if (!got) {
		snprintf(msg, sizeof(msg), "%d", (int)child);
		put_report(status, "pid", msg);
	}
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&fwd, &si), ws;
		if (sig < 0)
			continue;
		if (sig == SIGCHLD) {
			pid_t r;
			while ((r = waitpid(-1, &ws, WNOHANG)) > 0) {
				if (r == child) {
					/* what a PID namespace does when its PID 1 ends: the
					 * rest goes too (here: the container's process group) */
					if (!sp->namespaces)
						kill(-child, SIGKILL);
					snprintf(msg, sizeof(msg), "%d", ws);
					put_report(status, "exit", msg);
					_exit(0);
				}
			}
			continue;
		}
		kill(child, sig);
	}
}

/* Close every descriptor above 2 but a, b and c. */
static void close_others(int a, int b, int c)
{
	int v[3] = { a, b, c }, i, j, from = 3;
	for (i = 0; i < 3; i++)
		for (j = i + 1; j < 3; j++)
			if (v[j] < v[i]) {
				int t = v[i];
				v[i] = v[j];
				v[j] = t;
			}
	for (i = 0; i < 3; i++) {
		if (v[i] > from)
			syscall(SYS_close_range, (unsigned)from, (unsigned)v[i] - 1, 0u);
		if (v[i] + 1 > from)
			from = v[i] + 1;
	}
	syscall(SYS_close_range, (unsigned)from, ~0u, 0u);
}

/* ---- in the kubelet ---- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int kl_proc_start(kl_proc *p, const kl_spawn *sp, char *err, size_t errsize)
{
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, stp[2] = { -1, -1 };
	pid_t me = getpid(), pid;

	memset(p, 0, sizeof(*p));
	p->pidfd = p->status_fd = p->out_fd = p->err_fd = -1;
	if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0 || pipe2(stp, O_CLOEXEC) != 0) {
		snprintf(err, errsize, "pipe: %s", strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errsize, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* the write ends must survive exec in the container; nothing
		 * else of this process may (sockets, the data dir's lock) */
		fcntl(outp[1], F_SETFD, 0);
		fcntl(errp[1], F_SETFD, 0);
		close_others(outp[1], errp[1], stp[1]);
		shim_main(sp, me, outp[1], errp[1], stp[1]);
		_exit(1);
	}
	close(outp[1]);
	close(errp[1]);
	close(stp[1]);
	p->shim = pid;
	p->ns = sp->namespaces;
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	p->out_fd = outp[0];
	p->err_fd = errp[0];
	p->status_fd = stp[0];
	set_nonblock(p->out_fd);
	set_nonblock(p->err_fd);
	set_nonblock(p->status_fd);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (stp[i] >= 0)
			close(stp[i]);
	}
	return -1;
}

int kl_proc_read_status(kl_proc *p, int *wstatus, char *exec_err, size_t errsize)
{
	int result = 0;
	for (;;) {
		ssize_t n;
		char *nl;
		if (p->status_fd < 0)
			return -1;
		n = read(p->status_fd, p->sbuf + p->slen, sizeof(p->sbuf) - 1 - p->slen);
		if (n == 0) {
			close(p->status_fd);
			p->status_fd = -1;
			return result ? result : -1;
		}
		if (n < 0)
			return result;
		p->slen += (size_t)n;
		p->sbuf[p->slen] = '\0';
		while ((nl = strchr(p->sbuf, '\n')) != NULL) {
			*nl = '\0';
			if (!strncmp(p->sbuf, "pid ", 4)) {
				p->pid = (pid_t)atoi(p->sbuf + 4);
			} else if (!strncmp(p->sbuf, "exit ", 5)) {
				*wstatus = atoi(p->sbuf + 5);
				result = 1;
			} else if (!strncmp(p->sbuf, "err ", 4) && exec_err && !exec_err[0]) {
				snprintf(exec_err, errsize, "%s", p->sbuf + 4);
			}
			memmove(p->sbuf, nl + 1, p->slen - (size_t)(nl + 1 - p->sbuf) + 1);
			p->slen -= (size_t)(nl + 1 - p->sbuf);
		}
		if (p->slen == sizeof(p->sbuf) - 1)
			p->slen = 0;  /* a line too long to be ours: drop it */
	}
}

void kl_proc_signal(kl_proc *p, int sig)
{
	if (p->shim <= 0)
		return;
	/* without namespaces, the container leads a process group: SIGKILL
	 * takes the processes it started too */
	if (sig == SIGKILL && !p->ns && p->pid > 0)
		kill(-p->pid, SIGKILL);
	if (p->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);
	else
		kill(p->shim, sig);
}

int kl_proc_wait(kl_proc *p, unsigned ms)
{
	struct pollfd pfd = { p->pidfd, POLLIN, 0 };
	int ws;
	if (p->shim <= 0 || p->pidfd < 0)
		return 0;
	if (poll(&pfd, 1, (int)ms) <= 0)
		return 0;
	return kl_proc_reap(p, &ws);
}

int kl_proc_reap(kl_proc *p, int *wstatus)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (p->shim <= 0)
		return 0;
	if (waitid(p->pidfd >= 0 ? (idtype_t)P_PIDFD : P_PID, p->pidfd >= 0 ? (id_t)p->pidfd : (id_t)p->shim, &si,
		WEXITED | WNOHANG) != 0 || si.si_pid == 0)
		return 0;
	*wstatus = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : si.si_status & 0x7f;
	p->shim = 0;
	return 1;
}

void kl_proc_close(kl_proc *p)
{
	int ws;
	if (p->shim > 0)
		kl_proc_reap(p, &ws);
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->status_fd >= 0)
		close(p->status_fd);
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->err_fd >= 0)
		close(p->err_fd);
	p->pidfd = p->status_fd = p->out_fd = p->err_fd = -1;
}
