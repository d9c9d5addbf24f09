#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Prepare, on a development machine (Debian 12, network, the packages of packages.debian), what
# bench/gpu-check.sh needs on a GPU machine that has the CUDA toolkit but no MPI, no hwloc,
# OpenBLAS, jansson, inih or cmocka, no pkg-config and no network:
#
#   bench/gpu-deps/root.tar.xz  Debian 12's Open MPI, hwloc, OpenBLAS, jansson, inih, cmocka,
#                               pkgconf, make and jq, with the libraries they load, unpacked
#                               (dpkg -x) under one prefix, which gpu-check.sh unpacks and
#                               relocates to; static libraries, LAPACK, Fortran and docs left out
#                               (about 15 MB, so that it travels with the tree)
#   bench/gpu-deps/trainload.tar.gz   `make dist` of this tree: no autotools needed there
#
#   bench/gpu-deps.sh           (from the top of a configured tree; run `make` first)
#
# bench/gpu-deps/ is ignored by git; carry it to the GPU machine with the tree. The C library,
# the C++ runtime and other base libraries are the GPU machine's own (glibc 2.36 or later, as
# Debian 12's packages need); so is gcc, which nvcc needs anyway.
set -eu
cd "$(dirname "$0")/.."
out=bench/gpu-deps

# What the build needs (headers, .pc files, link-time .so), without their dependencies (which
# pull in compilers)...
dev="libopenmpi-dev libhwloc-dev libopenblas-dev libopenblas-pthread-dev libjansson-dev
     libinih-dev libcmocka-dev"
# ...and what runs: the closure of these, less the base system every machine has, and less
# hwloc's optional plugins (X11, libxml2, OpenCL; dlopen'ed from a fixed path, so never loaded
# from the relocated prefix anyway).
run="openmpi-bin libopenmpi3 libhwloc15 libopenblas0-pthread libjansson4 libinih1
     libinireader0 libcmocka0 pkgconf make jq"
base="libc6 libstdc++6 libgcc-s1 zlib1g openssh-client passwd adduser dpkg debconf tar libssl3
      libselinux1 libpam0g libreadline8 libudev1"
plugins="libhwloc-plugins libx11-6 libx11-data libxau6 libxcb1 libxdmcp6 libxext6 libxml2
         libicu72 ocl-icd-libopencl1 libxnvctrl0 libpciaccess0"

closure() {
	# shellcheck disable=SC2086
	apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances $1 | grep -E '^[a-z0-9]' | sort -u
}

[ -f Makefile ] || { echo "gpu-deps.sh: configure the tree first (./autogen.sh && ./configure)" >&2; exit 2; }
rm -rf "$out"
mkdir -p "$out/debs" "$out/root"
root=$out/root
closure "$run" >"$out/run.list"
closure "$base" >"$out/base.list"
# shellcheck disable=SC2086 # word lists, split on purpose
printf '%s\n' $plugins | sort -u >"$out/plugins.list"
{
	# shellcheck disable=SC2086
	printf '%s\n' $dev
	comm -23 "$out/run.list" "$out/base.list" | comm -23 - "$out/plugins.list"
} | sort -u >"$out/packages.list"
rm "$out/run.list" "$out/base.list" "$out/plugins.list"
echo "gpu-deps.sh: $(wc -l <"$out/packages.list") packages: $(tr '\n' ' ' <"$out/packages.list")"
# shellcheck disable=SC2046
(cd "$out/debs" && apt-get download $(cat ../packages.list))
for deb in "$out"/debs/*.deb; do
	dpkg -x "$deb" "$root"
done
# The commands that Debian reaches through update-alternatives, which dpkg -x does not set up.
for tool in mpicc mpirun mpiexec; do
	[ -e "$root/usr/bin/$tool.openmpi" ] && ln -sf "$tool.openmpi" "$root/usr/bin/$tool"
done
ln -sf pkgconf "$root/usr/bin/pkg-config"
# libopenblas.so.0 and openblas.pc, which Debian also installs through alternatives.
blas=$root/usr/lib/x86_64-linux-gnu
ln -sf openblas-pthread/libopenblas.so.0 "$blas/libopenblas.so.0"
ln -sf ../openblas-pthread/pkgconfig/openblas.pc "$blas/pkgconfig/openblas.pc"
rm -rf "$out/debs"
# What trainload never loads.
find "$root" -name '*.a' -delete
rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/info" \
	"$root/usr/share/lintian" "$root/usr/lib/x86_64-linux-gnu/fortran" \
	"$blas"/openblas-pthread/liblapack* "$blas"/libmpi_java* "$blas"/libmpi_mpifh* \
	"$blas"/libmpi_use*
tar -C "$root" -cJf "$out/root.tar.xz" .
rm -rf "$root"

make dist >/dev/null
mv "trainload-$(sed -n 's/^PACKAGE_VERSION = //p' Makefile).tar.gz" "$out/trainload.tar.gz"
echo "gpu-deps.sh: $(du -sh "$out" | cut -f1) in $out (carry it with the tree)"
