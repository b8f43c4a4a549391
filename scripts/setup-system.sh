#!/usr/bin/env bash
# Installs the Debian packages pktpath needs when they are missing, and mounts tracefs.
# Only root can do either; anyone else is told what is missing and carries on.
set -euo pipefail

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }

have_lib libbpf.so.1 || need+=(libbpf1)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
have_cmd clang || need+=(clang)
have_cmd llvm-strip || need+=(llvm)
have_cmd ip || need+=(iproute2)
have_cmd ping || need+=(iputils-ping)
have_cmd nft || need+=(nftables)
have_cmd iptables-legacy || need+=(iptables)
have_cmd nsenter || need+=(util-linux)
have_cmd bpftool || need+=(bpftool)
if [ "${PKTPATH_NO_BROWSER:-0}" != 1 ]; then
  have_cmd chromium || need+=(chromium)
  # Test-only too: the container-naming tests run real runtimes (Podman with runc; containerd's CRI
  # with the CNI plugins) on an image built from busybox-static, since no image registry is reachable.
  have_cmd podman || need+=(podman)
  have_cmd runc || need+=(runc)
  have_cmd containerd || need+=(containerd)
  [ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
  dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
  # And Docker's engine (the tests run a private one), only where installing it cannot start the
  # machine's own daemon, which would rewrite the firewall: no systemd, and policy-rc.d refusing.
  if ! have_cmd dockerd && [ ! -d /run/systemd/system ] && [ -x /usr/sbin/policy-rc.d ]; then
    rc=0; /usr/sbin/policy-rc.d docker start >/dev/null 2>&1 || rc=$?
    if [ "$rc" -eq 101 ]; then need+=(docker.io); fi
  fi
fi

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "pktpath: missing Debian packages (${need[*]}); run as root or install them" >&2
  else
    echo "pktpath: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  fi
fi

if [ "$(id -u)" -eq 0 ] && [ ! -e /sys/kernel/tracing/trace ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi
