# podman as these machines need it (sourced by scripts/images.sh and the
# image tests, not run):
#
#   peerop_podman_setup DIR   write DIR/containers.conf, export CONTAINERS_CONF
#   pm ARGS...                podman --runtime runc ARGS...
#   PM_ULIMITS                the --ulimit flags for `podman build` and `run`
#
# Two facts of Debian 12 hosts with hybrid (v1) cgroups: crun, podman's
# default runtime, refuses them, so every call names runc; and podman's
# default ulimits (nofile 1048576) exceed the machine's hard limits, so
# containers get nofile and nproc 1024. Both are written into a
# containers.conf of our own (CONTAINERS_CONF replaces the system's files,
# so it repeats the defaults that matter: capabilities and the seccomp
# profile) and passed as flags too, because `podman build` reads ulimits from
# its flags only. Logs, events and cgroups go through files and cgroupfs, so
# neither systemd nor journald need run. Nothing under /etc is changed.

PM_ULIMITS="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"

peerop_podman_setup() {
	command -v podman >/dev/null 2>&1 || {
		echo "podman not found: scripts/install-deps.sh test installs it" >&2
		return 1
	}
	command -v runc >/dev/null 2>&1 || {
		echo "runc not found: scripts/install-deps.sh test installs it" >&2
		return 1
	}
	mkdir -p "$1"
	_seccomp=/usr/share/containers/seccomp.json
	cat >"$1/containers.conf.tmp" <<EOF
# Written by scripts/podman.sh; rewritten on each run.
[containers]
default_capabilities = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
  "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
seccomp_profile = "$_seccomp"
log_driver = "k8s-file"

[engine]
runtime = "runc"
# no systemd or journald needed (CI machines, containers)
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
	mv "$1/containers.conf.tmp" "$1/containers.conf"
	CONTAINERS_CONF="$1/containers.conf"
	export CONTAINERS_CONF
}

pm() {
	podman --runtime runc "$@"
}
