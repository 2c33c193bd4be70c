#!/usr/bin/env bash
# Builds the Debian package tobira_VERSION_ARCH.deb from `npm pack` of this checkout (docs/install.md).
#
#   packaging/build-deb.sh [OUT_DIR]        # default OUT_DIR: ./deb
#   TOBIRA_DEB_NO_BUILD=1      skip `npm run build` (dist/ is already built)
#   TOBIRA_DEB_COMPRESSION=gzip  dpkg-deb's -Z (default xz; the tests use gzip, xz takes minutes on 2 cores)
#
# The package holds the npm package in /usr/lib/tobira with its production dependencies from this
# checkout's node_modules: better-sqlite3 and epoll are native modules compiled for this machine's
# architecture and this Node's ABI, so the package is for this architecture (build it on the Pi, or on
# a machine of the Pi's architecture) and for this Node major version (Depends: nodejs (>= N), (<< N+1)).
# Node itself comes from the OS. Needs node, npm and dpkg-deb; no root (dpkg-deb --root-owner-group).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=$(mkdir -p "${1:-$root/deb}" && cd "${1:-$root/deb}" && pwd)
cd "$root"

version=$(node -p 'require("./package.json").version')
arch=$(dpkg --print-architecture)
major=$(node -p 'process.versions.node.split(".")[0]')
# Inside node_modules (ignored by git and npm), so that its files can be hard-linked, not copied.
work=$(mktemp -d -p "$(cd node_modules && pwd -P)" .tobira-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT

[ "${TOBIRA_DEB_NO_BUILD:-}" = 1 ] || npm run build --silent
[ -f dist/src/cli/main.js ] || { echo "build-deb: no dist/: run npm run build" >&2; exit 2; }

# 1. The npm package, exactly what `npm pack` ships ("files" in package.json).
npm pack --ignore-scripts --silent --pack-destination "$work" >/dev/null
pkg="$work/root"
lib="$pkg/usr/lib/tobira"
mkdir -p "$lib"
tar -xzf "$work/tobira-$version.tgz" -C "$lib" --strip-components=1

# 2. Production dependencies, as installed here: the top-level directories (nested ones come with
# their parents). prod-deps.mjs fails if one is missing.
modules=$(cd node_modules && pwd -P)
deps=$(node packaging/prod-deps.mjs .)
for dep in $(printf '%s\n' "$deps" | grep -Ev '^node_modules/.+/node_modules/' | sed 's|^node_modules/||'); do
  mkdir -p "$lib/node_modules/$(dirname "$dep")"
  cp -al "$modules/$dep" "$lib/node_modules/$dep" 2>/dev/null || cp -a "$modules/$dep" "$lib/node_modules/$dep"
done
# better-sqlite3's SQLite sources and object files (25 MB) are not needed once its module is built.
bs="$lib/node_modules/better-sqlite3"
[ -f "$bs/build/Release/better_sqlite3.node" ] || { echo "build-deb: better-sqlite3 is not built in node_modules" >&2; exit 1; }
mv "$bs/build/Release/better_sqlite3.node" "$work/better_sqlite3.node"
rm -rf "$bs/deps" "$bs/src" "$bs/build"
mkdir -p "$bs/build/Release"
mv "$work/better_sqlite3.node" "$bs/build/Release/better_sqlite3.node"

# 3. The command, the unit, the docs' home.
mkdir -p "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/usr/share/doc/tobira"
ln -s ../lib/tobira/bin/tobira.js "$pkg/usr/bin/tobira"
install -m 0644 packaging/tobira.service "$pkg/lib/systemd/system/tobira.service"
install -m 0644 LICENSE "$pkg/usr/share/doc/tobira/copyright"

# 4. Control files.
mkdir -p "$pkg/DEBIAN"
for script in postinst prerm postrm; do install -m 0755 "packaging/debian/$script" "$pkg/DEBIAN/$script"; done
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: tobira
Version: $version
Architecture: $arch
Maintainer: tobira developers <tobira@localhost>
Installed-Size: $size
Depends: nodejs (>= $major), nodejs (<< $((major + 1))), adduser, systemd
Section: net
Priority: optional
Description: access-control controller for restricted areas and safes
 tobira drives door locks, card readers, PIN keypads, door contacts, exit
 buttons and alarms over MQTT and GPIO, decides every access locally, and
 writes every decision to a tamper-evident entry log. This package installs
 the tobira command, the hardened systemd unit tobira.service, the system
 user tobira and its directories /etc/tobira and /var/lib/tobira.
 .
 Built for Node.js $major (its native modules are built for that ABI).
CONTROL

deb="$out/tobira_${version}_${arch}.deb"
dpkg-deb --root-owner-group "-Z${TOBIRA_DEB_COMPRESSION:-xz}" --build "$pkg" "$deb" >/dev/null
echo "$deb"
