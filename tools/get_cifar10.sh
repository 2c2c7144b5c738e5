#!/usr/bin/env bash
# Downloads CIFAR-10 in the official binary layout, checks its sha256 and unpacks it to
# DEST/cifar-10-batches-bin (data_batch_1..5.bin, test_batch.bin, batches.meta.txt), which
# `--dataset cifar10:DEST` then reads. Nothing is left half-done: the archive is fetched and unpacked in a
# temporary folder inside DEST and moved into place only after every check passed. Tested by
# tests/test_data_get_cifar10.cpp with a small archive and a file:// URL.
#
#   tools/get_cifar10.sh [--dest DIR] [--url URL] [--sha256 HEX] [--force]
set -euo pipefail

url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
# sha256 of cifar-10-binary.tar.gz (170,052,171 bytes; the page lists MD5 c32a1d4ab5d03f1284b67883e8d87530).
sha="c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
dest="data"
force=0
die() { echo "get_cifar10: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) [ $# -ge 2 ] || die "--dest needs a folder"; dest="$2"; shift 2 ;;
    --url) [ $# -ge 2 ] || die "--url needs a URL"; url="$2"; shift 2 ;;
    --sha256) [ $# -ge 2 ] || die "--sha256 needs a checksum"; sha="$(echo "$2" | tr 'A-F' 'a-f')"; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$sha" =~ ^[0-9a-f]{64}$ ]] || die "'$sha' is not a 64-digit hex sha256"
command -v curl >/dev/null || die "curl is not installed"
command -v sha256sum >/dev/null || die "sha256sum is not installed"

final="$dest/cifar-10-batches-bin"
if [ -d "$final" ] && [ "$force" -eq 0 ]; then
  echo "get_cifar10: $final already present (use --force to fetch again)"
  exit 0
fi
mkdir -p "$dest"
tmp="$(mktemp -d "$dest/.get_cifar10.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "get_cifar10: downloading $url"
curl -fL --retry 3 --retry-delay 2 -o "$tmp/archive.tar.gz" "$url" || die "download of $url failed"
got="$(sha256sum "$tmp/archive.tar.gz" | cut -d' ' -f1)"
[ "$got" = "$sha" ] || die "$url: sha256 $got does not match the expected $sha (corrupt or changed download)"

mkdir "$tmp/x"
tar -xzf "$tmp/archive.tar.gz" -C "$tmp/x" || die "cannot unpack the archive from $url"
src="$tmp/x/cifar-10-batches-bin"
[ -d "$src" ] || die "the archive from $url has no cifar-10-batches-bin folder"
for f in data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin; do
  [ -f "$src/$f" ] || die "the archive from $url lacks cifar-10-batches-bin/$f"
  size=$(stat -c %s "$src/$f")
  [ $((size % 3073)) -eq 0 ] && [ "$size" -gt 0 ] || die "cifar-10-batches-bin/$f is $size bytes, not whole 3073-byte records"
done

[ -e "$final" ] && rm -rf "$final"
mv "$src" "$final"
echo "get_cifar10: CIFAR-10 ready in $final"
