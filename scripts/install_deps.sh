#!/bin/sh
# Installs the Debian packages frugal needs, if any are missing. As root it runs apt-get;
# otherwise it prints the exact command and stops with status 1.
PKGS="build-essential pkg-config libopenblas-openmp-dev libcjson-dev libdivsufsort-dev libgsl-dev gnuplot-nox"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $missing >/dev/null || exit 1
else
    echo "frugal needs these Debian packages:$missing"
    echo "run:  sudo apt-get install -y$missing"
    exit 1
fi
