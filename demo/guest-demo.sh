#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM (scripts/demo): zero-copy TCP sends over two emulated
# e1000e NICs on a QEMU hub (the NIC reads the pages: no copy) and over
# veth (delivered locally: always copied), side by side; then zero-copy
# receive (RECV_ZC, device-less) of a stream over each path.
#   guest-demo.sh BINDIR
set -eu
bindir=${1:?usage: guest-demo.sh BINDIR}
here=$(dirname "$(readlink -f "$0")")
. "$here/../selftests/netns.sh"
. "$here/../vm/e1000e-pair.sh"

zc_e1000e_up
zc_netns_up

echo "kernel $(uname -r): IORING_OP_SEND_ZC, 64 KiB TCP sends, every byte verified"
"$bindir/send_zc_demo" e1000e zc-peer - 10.7.0.1 32
"$bindir/send_zc_demo" veth zc-a zc-b 10.91.0.2 32
echo "IORING_OP_RECV_ZC (device-less: the kernel copies into the registered pool)"
"$bindir/recv_zc_demo" e1000e zc-peer - 10.7.0.1 32
"$bindir/recv_zc_demo" veth zc-a zc-b 10.91.0.2 32
zc_netns_down
zc_e1000e_down
