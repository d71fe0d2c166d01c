#!/usr/bin/env bash
# build_deb.sh OUTDIR - builds mxguard's .deb from this tree with `dpkg-buildpackage -us -uc -b`
# in a temporary copy of the tree (git's tracked and untracked-but-not-ignored files, or without
# git everything but build*/ and .git), and puts mxguard_VERSION_ARCH.deb, the .buildinfo and the
# .changes in OUTDIR; the build log is OUTDIR/build.log. DEB_BUILD_OPTIONS and DEB_BUILD_PROFILES
# are passed on; unset, they are "nocheck noddebs parallel=2" and "nocheck": the two programs
# only, no unit tests, no -dbgsym package, two jobs. A plain `dpkg-buildpackage -us -uc -b` in a
# checkout builds the same package and also runs the unit tests.
# build_deb.sh --key prints a key for the inputs of that build: the hash of the copied files'
# names and contents, the build options and every installed package's version (compiler,
# debhelper, the -dev packages); tests/package/deb_install_test.sh caches .debs under it.
# Must not: write into the source tree (dpkg-buildpackage writes debian/ files and ../*.deb).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-nocheck noddebs parallel=2}
export DEB_BUILD_PROFILES=${DEB_BUILD_PROFILES-nocheck}

# tree_files: NUL-separated paths (relative to src) of the files a build copies.
tree_files() {
  if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard \
      | while IFS= read -r -d '' f; do [[ -f "$f" || -L "$f" ]] && printf '%s\0' "$f"; done)
  else
    (cd "$src" && find . \( -path './build*' -o -path ./.git \) -prune -o \( -type f -o -type l \) \
      -printf '%P\0')
  fi
}

if [[ "${1:-}" == "--key" ]]; then
  {
    (cd "$src" && tree_files | LC_ALL=C sort -z | xargs -0 -r sha256sum --)
    echo "DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS DEB_BUILD_PROFILES=$DEB_BUILD_PROFILES"
    dpkg-query -W -f='${Package}:${Architecture}=${Version}\n' | LC_ALL=C sort
  } | sha256sum | cut -c1-24
  exit 0
fi

out=${1:?usage: build_deb.sh OUTDIR | --key}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d /tmp/mxguard-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/mxguard"
# The copy's modes follow umask 022, not the checkout's: a group-writable policy file (a checkout
# made with umask 002) is refused by mxguard and its unit tests.
umask 022
(cd "$src" && tree_files | tar --null -T - -cf -) | tar -C "$tmp/mxguard" --no-same-permissions -xf -
if ! (cd "$tmp/mxguard" && dpkg-buildpackage -us -uc -b) > "$out/build.log" 2>&1; then
  echo "build_deb: dpkg-buildpackage failed; last lines of $out/build.log:" >&2
  tail -30 "$out/build.log" >&2
  exit 1
fi
shopt -s nullglob
files=("$tmp"/*.deb "$tmp"/*.buildinfo "$tmp"/*.changes)
compgen -G "$tmp/*.deb" >/dev/null || { echo "build_deb: dpkg-buildpackage made no .deb" >&2; exit 1; }
mv "${files[@]}" "$out/"
ls "$out"/*.deb
