#!/bin/sh
# image-rootfs.sh: the root filesystem of a distroless-style runtime image,
# run in the Dockerfile's build stage (as root, where the program is
# installed):
#
#   scripts/image-rootfs.sh PROGRAM DEST
#
# DEST gets nothing but what PROGRAM runs with: the program; every shared
# library it loads, found by ldd (the dynamic loader resolving the whole
# DT_NEEDED closure, so libcurl's own libraries come too), each copied to
# the path the loader found it at, under its SONAME; the loader itself; CA
# certificates; passwd and group entries for root and nonroot (65532), an
# nsswitch.conf, and an empty /tmp. No shell, no package manager, no
# coreutils. It then proves the list complete: PROGRAM --help must run in
# DEST (chroot) and ldd must report no library "not found".
set -eu

prog=$1
dest=$2
[ -x "$prog" ] || { echo "image-rootfs: $prog is not an executable" >&2; exit 1; }
rm -rf "$dest"
mkdir -p "$dest"

ldd "$prog" >/tmp/ldd.out || { cat /tmp/ldd.out >&2; echo "image-rootfs: ldd $prog failed" >&2; exit 1; }
if grep -q 'not found' /tmp/ldd.out; then
	cat /tmp/ldd.out >&2
	echo "image-rootfs: $prog needs libraries that are not installed" >&2
	exit 1
fi
# "libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)" and the loader,
# "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vDSO has no file
libs=$(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' /tmp/ldd.out | sort -u)
[ -n "$libs" ] || { echo "image-rootfs: ldd found no libraries for $prog" >&2; exit 1; }

cp --parents "$prog" "$dest/"
for l in $libs; do
	# -L: the file itself under the name the loader looks for (the
	# SONAME link), not a dangling link to libfoo.so.1.2.3
	cp -L --parents "$l" "$dest/"
done

mkdir -p "$dest/etc/ssl/certs" "$dest/tmp"
chmod 1777 "$dest/tmp"
cp -L /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/ca-certificates.crt"
cat >"$dest/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat >"$dest/etc/group" <<'EOF'
root:x:0:
nonroot:x:65532:
EOF
# glibc reads these for users, groups and host names (files and dns are
# built into libc since 2.34: no libnss_*.so to copy)
cat >"$dest/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF

# the proof: the program starts from DEST alone
chroot "$dest" "$prog" --help >/tmp/help.out 2>&1 || {
	cat /tmp/help.out >&2
	echo "image-rootfs: $prog does not start from $dest: a library is missing" >&2
	exit 1
}
n=$(echo "$libs" | wc -l)
echo "image-rootfs: $dest: $prog and $n libraries ($(du -sh "$dest" | cut -f1)):"
echo "$libs" | sed 's/^/  /'
