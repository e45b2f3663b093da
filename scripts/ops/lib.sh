# Shared by scripts/ops/*.sh (sourced, not run): PASS/FAIL lines and the verdict, "cannot run
# here" (a loud SKIP, or a FAIL in CI), Debian packages installed when missing, and debootstrapped
# roots cached by their package list.
# shellcheck shell=bash

OPS_CACHE=${VXMAN_OPS_CACHE:-/var/cache/vxman-ops}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OPS_STARTED=$(date +%s)
passes=0
failures=0
ops_done=

say() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*"; }
pass() { passes=$((passes + 1)); printf 'PASS  %s\n' "$*"; }
fail() { failures=$((failures + 1)); printf 'FAIL  %s\n' "$*"; }

# check WHAT SEEN CONDITION: one PASS or FAIL line; CONDITION is shell code, evaluated in the
# caller's scope (e.g. '[ "$code" = 200 ]').
check() {
  if eval "$3"; then pass "$1 ($2)"; else fail "$1 ($2)"; fi
}

# The last line, and the exit code: 0 when every check passed.
verdict() {
  local name=$1 took=$(($(date +%s) - OPS_STARTED))
  ops_done=1
  if [ "$failures" -eq 0 ] && [ "$passes" -gt 0 ]; then
    printf 'VERDICT %s: PASS (%d checks, %d s)\n' "$name" "$passes" "$took"
    exit 0
  fi
  printf 'VERDICT %s: FAIL (%d of %d checks failed, %d s)\n' "$name" "$failures" "$((passes + failures))" "$took"
  exit 1
}

# For the scripts' EXIT traps: a script stopped by `set -e` still ends with a verdict line.
verdict_if_stopped() {
  [ -n "$ops_done" ] || printf 'VERDICT %s: FAIL (stopped early, after %d passed and %d failed checks)\n' "$1" "$passes" "$failures"
}

# This machine cannot run the script at all. In CI (VXMAN_TEST_STRICT=1) that is a failure: the
# checks would silently stop being made. Elsewhere a loud SKIP, exit code 77 (automake's "skipped").
cannot_run() {
  local name=$1 why=$2
  ops_done=1
  if [ "${VXMAN_TEST_STRICT:-0}" = 1 ]; then
    printf '\nVERDICT %s: FAIL: cannot run on this machine: %s\n' "$name" "$why"
    exit 1
  fi
  printf '\n!!! SKIP %s: cannot run on this machine: %s !!!\n' "$name" "$why"
  exit 77
}

# Debian packages, installed only when missing (CI starts from a bare machine).
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Debian mirror this machine already uses (the only one it can reach).
debian_mirror() {
  local uri
  uri=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# cached_root PACKAGES: a debootstrapped bookworm minbase root with these extra packages (comma
# separated), built once and kept under $OPS_CACHE keyed by a hash of the recipe, so the next run
# copies it in seconds instead of spending a minute or two downloading. Prints its path. Callers
# copy it; they never change the cached one.
ROOT_RECIPE_VERSION=1
cached_root() {
  local packages=$1 key dir tmp
  key=$(printf 'v%s bookworm minbase %s' "$ROOT_RECIPE_VERSION" "$packages" | sha256sum | cut -c1-16)
  dir=$OPS_CACHE/roots/$key
  mkdir -p "$OPS_CACHE/roots"
  # One builder at a time; a second run waits for the first one's root instead of building it too.
  exec {lock}>"$OPS_CACHE/roots/.lock"
  flock -w 900 "$lock"
  if [ -f "$dir/.complete" ]; then
    say "Debian root from the cache: $dir (packages: ${packages:-none})" >&2
  else
    say "debootstrap (not cached yet, 1-3 min): minbase + ${packages:-nothing} into $dir" >&2
    tmp=$(mktemp -d "$OPS_CACHE/roots/.building-XXXXXX")
    chmod 755 "$tmp" # it becomes the container's /: mktemp's 0700 would lock every other user out
    local started
    started=$(date +%s)
    if ! debootstrap --variant=minbase ${packages:+--include="$packages"} bookworm "$tmp" "$(debian_mirror)" >"$tmp.log" 2>&1; then
      tail -20 "$tmp.log" >&2
      rm -rf "$tmp" "$tmp.log"
      flock -u "$lock"
      return 1
    fi
    rm -rf "$tmp/var/cache/apt/archives/"*.deb "$tmp.log"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    touch "$dir/.complete"
    say "debootstrap done in $(($(date +%s) - started)) s, cached as $dir" >&2
  fi
  flock -u "$lock"
  echo "$dir"
}

# The compiled binary to test: $VXMAN_BIN, else dist/vxman (built when missing). Copied at once
# into $1, so a rebuild of dist/vxman by someone else during the run changes nothing.
copy_binary() {
  local into=$1 bin=${VXMAN_BIN:-$REPO/dist/vxman}
  if [ ! -x "$bin" ]; then
    say "no $bin: building it"
    (cd "$REPO" && node_modules/.bin/bun scripts/build.ts >/dev/null)
  fi
  install -m 755 "$bin" "$into/vxman"
  say "binary: $("$into/vxman" version 2>/dev/null | head -1)"
}
