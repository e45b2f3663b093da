#!/bin/sh
# vxman-register: enrol this machine with a vxman manager, and optionally keep it enrolled.
#
#   curl -fsS http://MANAGER:8080/register.sh | sh
#   curl -fsS http://MANAGER:8080/register.sh | VXMAN_TOKEN=TOKEN sh -s -- --heartbeat
#
# Served by vxman at GET /register.sh, with the manager's address below taken from that request.
# POSIX sh (dash, busybox ash); needs curl or GNU wget, and ip (iproute2). Run with --help.
# shellcheck disable=SC2015 # `a && b || die`: die is meant to run when either fails
set -u
set -f

SERVED_MANAGER='@@VXMAN_MANAGER_URL@@'
PROG=vxman-register
INSTALL_PATH=/usr/local/sbin/vxman-register
CONFIG_PATH=/etc/vxman-register.conf
# Every 5 minutes: well inside the 7 minutes that 3 missed checks take at vxman's defaults, so a
# machine whose ICMP is filtered stays active; 10,000 machines make ~33 cheap requests a second.
PERIOD_MIN=5

usage() {
  cat <<EOF
Usage: $PROG [--token TOKEN] [--heartbeat] [--dry-run] [--manager URL] [--root DIR] [--quiet]

Registers this machine with vxman: its hostname, and the IP address and MAC address of the
interface that routes to the manager, with a little system information (os, arch, kernel,
cpus, memory, interface, VXLAN id).

  --token TOKEN   the registration token, when the manager requires one (or set VXMAN_TOKEN;
                  the environment keeps it out of the process list)
  --heartbeat     also re-register every $PERIOD_MIN minutes: installs $INSTALL_PATH and a
                  systemd timer (or a cron entry without systemd); needs root
  --dry-run       print what would be sent and installed; send and change nothing
  --manager URL   the manager to register with (default: $SERVED_MANAGER)
  --root DIR      install the heartbeat files under DIR instead of / (for images), enable
                  nothing
  --quiet         print only errors
  --config FILE   read VXMAN_MANAGER and VXMAN_TOKEN from FILE (what the heartbeat uses)

Exit codes: 0 done, 1 the manager refused or could not be reached, 2 bad usage,
3 this machine lacks something (a tool, a route, a MAC address, root).
EOF
}

err() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
  code=$1
  shift
  err "$*"
  exit "$code"
}
say() { [ "$quiet" = 1 ] || printf '%s\n' "$*"; }
usage_error() {
  err "$*"
  printf '\n' >&2
  usage >&2
  exit 2
}
has() { command -v "$1" >/dev/null 2>&1; }

manager=${VXMAN_MANAGER:-}
token=${VXMAN_TOKEN:-}
dry_run=0
heartbeat=0
root=
quiet=0
config=
while [ $# -gt 0 ]; do
  case $1 in
    --token | --manager | --root | --config)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      case $1 in
        --token) token=$2 ;;
        --manager) manager=$2 ;;
        --root) root=$2 ;;
        --config) config=$2 ;;
      esac
      shift 2
      continue
      ;;
    --token=*) token=${1#*=} ;;
    --manager=*) manager=${1#*=} ;;
    --root=*) root=${1#*=} ;;
    --config=*) config=${1#*=} ;;
    --heartbeat) heartbeat=1 ;;
    --dry-run) dry_run=1 ;;
    --quiet | -q) quiet=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) usage_error "unknown option: $1" ;;
  esac
  shift
done

# The config file fills in what neither the command line nor the environment gave. Values are
# taken literally (no shell quoting), so a token may hold any printable character.
if [ -n "$config" ]; then
  [ -r "$config" ] || die 3 "cannot read $config"
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in
      VXMAN_MANAGER=*) [ -n "$manager" ] || manager=${line#VXMAN_MANAGER=} ;;
      VXMAN_TOKEN=*) [ -n "$token" ] || token=${line#VXMAN_TOKEN=} ;;
    esac
  done <"$config"
fi
[ -n "$manager" ] || manager=$SERVED_MANAGER

# --- Where the manager is -------------------------------------------------------------------

manager=${manager%/}
case $manager in
  http://?* | https://?*) ;;
  *) usage_error "the manager must be a URL such as http://198.18.0.1:8080 (got: $manager)" ;;
esac
case $manager in
  *[!]A-Za-z0-9._~:/%[-]*) usage_error "the manager URL may hold only letters, digits and . _ ~ : / % [ ] - (got: $manager)" ;;
esac
authority=${manager#*://}
authority=${authority%%/*}
case $authority in
  \[*\]*)
    manager_host=${authority#\[}
    manager_host=${manager_host%%\]*}
    ;;
  *:*:*) usage_error "write an IPv6 manager address in brackets: http://[2001:db8::1]:8080" ;;
  *) manager_host=${authority%:*} ;;
esac
[ -n "$manager_host" ] || usage_error "the manager URL has no host: $manager"

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
has ip || die 3 "this needs the ip command (Debian/Ubuntu: apt-get install iproute2; Alpine: apk add iproute2)"
if has curl; then
  http=curl
elif has wget; then
  case $(wget --help 2>&1) in
    *--method*) http=wget ;;
    *) die 3 "this wget cannot send PUT requests (BusyBox wget?): install curl" ;;
  esac
else
  die 3 "this needs curl or wget (Debian/Ubuntu: apt-get install curl; Alpine: apk add curl)"
fi

# The address `ip route get` needs: a literal, or the first address the name resolves to.
case $manager_host in
  *:*) manager_ip=$manager_host ;;
  *[!0-9.]*)
    manager_ip=
    if has getent; then
      # shellcheck disable=SC2046 # split on purpose: the first word is the address
      set -- $(getent ahosts "$manager_host" 2>/dev/null || getent hosts "$manager_host" 2>/dev/null)
      manager_ip=${1:-}
    fi
    [ -n "$manager_ip" ] || die 3 "cannot resolve $manager_host; use --manager with the manager's IP address"
    ;;
  *) manager_ip=$manager_host ;;
esac

# --- What this machine is -------------------------------------------------------------------

# Sets dev and ip_address from `ip route` output: "<dst> [via G] dev D [src S] ...".
route_fields() {
  dev=
  ip_address=
  # shellcheck disable=SC2086 # split on purpose
  set -- $1
  while [ $# -gt 0 ]; do
    case $1 in
      dev) dev=${2:-} ;;
      src) ip_address=${2:-} ;;
    esac
    shift
  done
}

route=$(ip route get "$manager_ip" 2>&1) || die 3 "no route to the manager $manager_ip: $route"
route_fields "$route"
[ -n "$dev" ] && [ -n "$ip_address" ] || die 3 "cannot tell the interface and address that reach $manager_ip from: $route"
if [ "$dev" = lo ]; then
  itself="the manager $manager_ip is this machine itself; run this on the machine to enrol, with the manager's network address"
  [ "$dry_run" = 1 ] || die 3 "$itself"
  # A dry run sends nothing, so it may still show what this machine would send: from the
  # interface of its default route, as seen from another manager.
  err "$itself (dry run: showing what would be sent from the default route's interface)"
  route_fields "$(ip route show default 2>/dev/null | head -n 1)"
  [ -z "$dev" ] || ip_address=$(ip -o addr show dev "$dev" scope global 2>/dev/null | sed -n 's/.* inet6\{0,1\} \([^/ ]*\).*/\1/p' | head -n 1)
  [ -n "$dev" ] && [ -n "$ip_address" ] || { dev=lo ip_address=$manager_ip; }
fi

mac=
[ -r "/sys/class/net/$dev/address" ] && mac=$(cat "/sys/class/net/$dev/address")
if [ -z "$mac" ]; then
  # shellcheck disable=SC2046
  set -- $(ip link show dev "$dev" 2>/dev/null)
  while [ $# -gt 1 ]; do
    case $1 in link/*) mac=$2 ;; esac
    shift
  done
fi
case $mac in
  00:00:00:00:00:00 | '') [ "$dry_run" = 1 ] && [ "$dev" = lo ] || die 3 "interface $dev has no MAC address, so it cannot be registered" ;;
  [0-9a-fA-F][0-9a-fA-F]:[0-9a-fA-F][0-9a-fA-F]:[0-9a-fA-F][0-9a-fA-F]:[0-9a-fA-F][0-9a-fA-F]:[0-9a-fA-F][0-9a-fA-F]:[0-9a-fA-F][0-9a-fA-F]) ;;
  *) die 3 "interface $dev has no Ethernet MAC address ($mac), so it cannot be registered" ;;
esac

hostname=$(cat /proc/sys/kernel/hostname 2>/dev/null || uname -n)

# A JSON string: control characters dropped, backslashes and quotes escaped.
json() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
# A JSON number, or nothing when the value is not one.
number() { case $2 in '' | *[!0-9]*) ;; *) printf ',"%s":%s' "$1" "$2" ;; esac; }

os=$(uname -s)
if [ -r /etc/os-release ]; then
  while IFS= read -r line; do
    case $line in PRETTY_NAME=*)
      os=${line#PRETTY_NAME=}
      os=${os#\"}
      os=${os%\"}
      os=${os#\'}
      os=${os%\'}
      ;;
    esac
  done </etc/os-release
fi
cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || true)
memory_mb=
if [ -r /proc/meminfo ]; then
  while read -r key value _; do
    [ "$key" = MemTotal: ] && memory_mb=$((value / 1024))
  done </proc/meminfo
fi
vni=
# shellcheck disable=SC2046
set -- $(ip -d link show dev "$dev" 2>/dev/null)
while [ $# -gt 2 ]; do
  [ "$1 $2" = "vxlan id" ] && vni=$3
  shift
done

body="{\"hostname\":$(json "$hostname"),\"mac_address\":$(json "$mac"),\"extra_data\":{\"os\":$(json "$os"),\"arch\":$(json "$(uname -m)"),\"kernel\":$(json "$(uname -r)")$(number cpus "$cpus")$(number memory_mb "$memory_mb"),\"interface\":$(json "$dev")$(number vni "$vni"),\"agent\":\"vxman-register\"}}"
url="$manager/api/machines/$ip_address"

# --- The heartbeat's files ------------------------------------------------------------------

root=${root%/}
if [ -d "$root/run/systemd/system" ]; then
  scheduler=systemd
elif [ -d "$root/etc/cron.d" ]; then
  scheduler=cron.d
elif [ -d "$root/etc/crontabs" ]; then
  scheduler=crontabs
else
  scheduler=none
fi
unit_dir=$root/etc/systemd/system

heartbeat_files() {
  printf '%s\n' "$root$INSTALL_PATH" "$root$CONFIG_PATH"
  case $scheduler in
    systemd) printf '%s\n' "$unit_dir/vxman-register.service" "$unit_dir/vxman-register.timer" ;;
    cron.d) printf '%s\n' "$root/etc/cron.d/vxman-register" ;;
    crontabs) printf '%s\n' "$root/etc/crontabs/root" ;;
  esac
}

if [ "$dry_run" = 1 ]; then
  printf 'Dry run: nothing is sent.\nPUT %s\nContent-Type: application/json\n' "$url"
  [ -z "$token" ] || printf 'Authorization: Bearer (the registration token, not shown)\n'
  printf '\n%s\n' "$body"
  if [ "$heartbeat" = 1 ]; then
    [ "$scheduler" != none ] || die 3 "--heartbeat: neither systemd nor cron was found (under ${root:-/})"
    printf '\n--heartbeat would install (%s, every %s minutes):\n' "$scheduler" "$PERIOD_MIN"
    heartbeat_files
  fi
  exit 0
fi

if [ "$heartbeat" = 1 ]; then
  [ -n "$root" ] || [ "$(id -u)" = 0 ] || die 3 "--heartbeat installs a system timer: run it as root (curl -fsS $manager/register.sh | sudo sh -s -- --heartbeat)"
  [ "$scheduler" != none ] || die 3 "--heartbeat: neither systemd nor cron was found; run '$INSTALL_PATH --config $CONFIG_PATH --quiet' every $PERIOD_MIN minutes yourself"
fi

# --- Talking to the manager -----------------------------------------------------------------

umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vxman-register.XXXXXX") || die 3 "cannot create a temporary directory"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# request METHOD URL [BODY_FILE]: the status code in $status, the response body in $tmp/response.
# The token travels in a file only, never on a command line another user could read.
request() {
  method=$1
  target=$2
  upload=${3:-}
  : >"$tmp/response"
  if [ "$http" = curl ]; then
    : >"$tmp/curl.cfg"
    [ -z "$token" ] || printf 'header = "Authorization: Bearer %s"\n' "$(printf '%s' "$token" | sed 's/[\\"]/\\&/g')" >"$tmp/curl.cfg"
    set -- -sS -K "$tmp/curl.cfg" -X "$method" -o "$tmp/response" -w '%{http_code}' --connect-timeout 10 --max-time 30
    [ -z "$upload" ] || set -- "$@" -H 'Content-Type: application/json' --data-binary "@$upload"
    status=$(curl "$@" "$target" 2>"$tmp/error") || true
  else
    : >"$tmp/wgetrc"
    [ -z "$token" ] || printf 'header = Authorization: Bearer %s\n' "$token" >"$tmp/wgetrc"
    set -- -q -S -O "$tmp/response" --content-on-error --timeout=30 --tries=1 --method="$method"
    [ -z "$upload" ] || set -- "$@" --header='Content-Type: application/json' --body-file="$upload"
    WGETRC=$tmp/wgetrc wget "$@" "$target" 2>"$tmp/error" || true
    status=$(sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' "$tmp/error" | tail -n 1)
  fi
  case $status in [1-5][0-9][0-9]) ;; *) status=000 ;; esac
}

# The manager's error message: the "message" of its JSON error, else the start of the body.
manager_message() {
  message=$(sed -n 's/^{"error":"[^"]*","message":"\([^"\\]*\(\\.[^"\\]*\)*\)".*/\1/p' "$tmp/response" | sed 's/\\\(.\)/\1/g')
  [ -n "$message" ] || message=$(head -c 300 "$tmp/response" | tr -d '\000-\037')
  printf '%s' "$message"
}

fail_request() {
  what=$1
  case $status in
    000) die 1 "cannot reach the manager at $manager ($what): $(tr -d '\r' <"$tmp/error" | tail -n 1)" ;;
    401) die 1 "the manager needs a registration token: pass --token TOKEN or set VXMAN_TOKEN. It said: $(manager_message)" ;;
    403) die 1 "the manager refused the token. It said: $(manager_message)" ;;
    422) die 1 "the manager rejected what this machine sent. It said: $(manager_message)" ;;
    *) die 1 "the manager answered $status to $what. It said: $(manager_message)" ;;
  esac
}

printf '%s' "$body" >"$tmp/body.json"
request PUT "$url" "$tmp/body.json"
case $status in
  201) say "registered $hostname ($ip_address, $mac) with $manager" ;;
  200) say "updated $hostname ($ip_address, $mac) at $manager" ;;
  *) fail_request "PUT $url" ;;
esac

[ "$heartbeat" = 1 ] || exit 0

# --- Installing the heartbeat ---------------------------------------------------------------

# This script arrived on stdin; the copy that runs from now on comes from the manager again.
(umask 022 && mkdir -p "$root${INSTALL_PATH%/*}" "$root${CONFIG_PATH%/*}") || die 3 "cannot create the directories for $root$INSTALL_PATH"
request GET "$manager/register.sh"
[ "$status" = 200 ] || fail_request "GET $manager/register.sh"
mv -f "$tmp/response" "$root$INSTALL_PATH.new" && chmod 755 "$root$INSTALL_PATH.new" && mv -f "$root$INSTALL_PATH.new" "$root$INSTALL_PATH" ||
  die 3 "cannot write $root$INSTALL_PATH"

{
  printf '# Written by vxman-register --heartbeat: the manager and the registration token it uses.\n'
  printf 'VXMAN_MANAGER=%s\n' "$manager"
  [ -z "$token" ] || printf 'VXMAN_TOKEN=%s\n' "$token"
} >"$root$CONFIG_PATH" && chmod 600 "$root$CONFIG_PATH" || die 3 "cannot write $root$CONFIG_PATH"

umask 022
command="$INSTALL_PATH --config $CONFIG_PATH --quiet"
# A per-machine offset, so that many machines do not all call at the same second.
random=$(od -An -N2 -tu2 /dev/urandom 2>/dev/null | tr -d ' ') || random=
case $random in '' | *[!0-9]*) random=$$ ;; esac
case $scheduler in
  systemd)
    mkdir -p "$unit_dir/timers.target.wants" || die 3 "cannot create $unit_dir"
    cat >"$unit_dir/vxman-register.service" <<EOF
# Installed by vxman-register --heartbeat: registers this machine with $manager again.
[Unit]
Description=Register this machine with vxman
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=$command
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
EOF
    cat >"$unit_dir/vxman-register.timer" <<EOF
# Installed by vxman-register --heartbeat.
[Unit]
Description=Register this machine with vxman every $PERIOD_MIN minutes

[Timer]
OnBootSec=1min
OnUnitActiveSec=${PERIOD_MIN}min
RandomizedDelaySec=30s

[Install]
WantedBy=timers.target
EOF
    if [ -n "$root" ]; then
      ln -sf /etc/systemd/system/vxman-register.timer "$unit_dir/timers.target.wants/vxman-register.timer"
    else
      systemctl daemon-reload && systemctl enable --now vxman-register.timer >/dev/null 2>&1 ||
        die 3 "could not enable vxman-register.timer: try systemctl enable --now vxman-register.timer"
    fi
    say "heartbeat: vxman-register.timer registers this machine every $PERIOD_MIN minutes"
    ;;
  cron.d | crontabs)
    minute=$((random % PERIOD_MIN))
    minutes=$minute
    minute=$((minute + PERIOD_MIN))
    while [ "$minute" -lt 60 ]; do
      minutes=$minutes,$minute
      minute=$((minute + PERIOD_MIN))
    done
    pause=$((random % 60))
    if [ "$scheduler" = cron.d ]; then
      cat >"$root/etc/cron.d/vxman-register" <<EOF
# Installed by vxman-register --heartbeat: registers this machine with $manager every $PERIOD_MIN minutes.
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
$minutes * * * * root sleep $pause; $command
EOF
    else
      crontab=$root/etc/crontabs/root
      { [ ! -f "$crontab" ] || sed '/vxman-register/d' "$crontab"; printf '%s * * * * sleep %s; %s\n' "$minutes" "$pause" "$command"; } >"$tmp/crontab" &&
        cat "$tmp/crontab" >"$crontab" || die 3 "cannot write $crontab"
      # BusyBox crond rereads the crontabs this file names.
      echo root >>"$root/etc/crontabs/cron.update"
    fi
    say "heartbeat: cron registers this machine every $PERIOD_MIN minutes"
    ;;
esac
exit 0
