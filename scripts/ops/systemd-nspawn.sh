#!/usr/bin/env bash
# systemd/vxman.service run for real: a Debian root (debootstrap, cached) with the compiled
# dist/vxman and the unit installed, booted with systemd-nspawn on a private network (nothing
# leaves it: only its own loopback), every check run inside it with nsenter. Storage: the
# embedded PGlite first, then a PostgreSQL server inside the container. One PASS/FAIL line per
# check, then a VERDICT line; exit 0 only when all passed (77: cannot run here, outside CI).
#
#   sudo scripts/ops/systemd-nspawn.sh
#   VXMAN_OPS_DROPIN=extra.conf scripts/ops/systemd-nspawn.sh   # also install a [Service] drop-in
#
# VXMAN_BIN: the binary to test (default dist/vxman, built when missing).
# VXMAN_OPS_CACHE: where the Debian root is cached (default /var/cache/vxman-ops).

# check's conditions are single-quoted on purpose (evaluated by check), so the variables they
# read look unused or unexpanded to shellcheck; cleanup runs from a trap.
# shellcheck disable=SC2016,SC2034,SC2317
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

NAME=systemd-nspawn
# FACTS.md's list (systemd as PID 1, curl for the checks) plus a PostgreSQL server.
PACKAGES=systemd,systemd-sysv,dbus,curl,ca-certificates,iproute2,procps,postgresql
CAP_NET_RAW=0000000000002000
# systemd's range for DynamicUser= (systemd.exec(5)).
DYNAMIC_UID_MIN=61184
DYNAMIC_UID_MAX=65519
API=http://127.0.0.1:8080
PG_URL=postgres://vxman:vxman-ops-check@127.0.0.1:5432/vxman
SIGSYS_DROPIN=etc/systemd/system/vxman.service.d/30-ops-sigsys.conf

work=
root=
nspawn_pid=
leader=

# --- the container ------------------------------------------------------------------------------

dump_journal() {
  echo "--- the container's journal for vxman (last 40 lines) ---"
  inside journalctl -u vxman -o cat --no-pager -n 40 | cut -c1-300 || true
}

cleanup() {
  if [ -z "$ops_done" ] && [ -n "$leader" ]; then dump_journal; fi
  verdict_if_stopped "$NAME"
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    # SIGTERM: nspawn asks the container's systemd for an orderly poweroff.
    kill -TERM "$nspawn_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$nspawn_pid" 2>/dev/null; then
      # Killing the container's PID 1 ends its whole PID namespace.
      if [ -n "$leader" ]; then kill -KILL "$leader" 2>/dev/null || true; fi
      kill -KILL "$nspawn_pid" 2>/dev/null || true
    fi
    wait "$nspawn_pid" 2>/dev/null || true
  fi
  if [ -n "$work" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# A command inside the container (all its namespaces), bounded in time.
inside() { timeout 60 nsenter -t "$leader" -a -- "$@"; }
unit() { inside systemctl show -P "$1" vxman; }
journal_since() { inside journalctl -u vxman -o cat --no-pager --since "@$1"; }

# wait_until SECONDS command...: poll every half second, at most that long.
wait_until() {
  local tries=$(($1 * 2))
  shift
  for _ in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}

install_into_root() {
  install -m 755 "$work/vxman" "$root/usr/local/bin/vxman"
  install -m 644 "$REPO/systemd/vxman.service" "$root/etc/systemd/system/vxman.service"
  install -d -m 755 "$root/etc/vxman"
  install -m 600 "$REPO/systemd/vxman.env.example" "$root/etc/vxman/vxman.env"
  # A short interval so a ping shows within seconds; everything else stays at its default.
  echo "PING_INTERVAL=1s" >>"$root/etc/vxman/vxman.env"
  install -d "$root/etc/systemd/system/vxman.service.d"
  # The unit answers a syscall outside its filter with EPERM, which a check might not notice.
  # Here such a call kills vxman (SIGSYS, systemd's default action), which check_no_sigsys sees.
  printf '[Service]\nSystemCallErrorNumber=\n' >"$root/$SIGSYS_DROPIN"
  if [ -n "${VXMAN_OPS_DROPIN:-}" ]; then
    install -m 644 "$VXMAN_OPS_DROPIN" "$root/etc/systemd/system/vxman.service.d/50-ops.conf"
    say "unit drop-in ($VXMAN_OPS_DROPIN): $(grep -v '^#' "$VXMAN_OPS_DROPIN" | tr '\n' ' ')"
  fi
  # Enabled as the install steps say (`systemctl enable`), so the first start is the boot's.
  ln -sf /etc/systemd/system/vxman.service "$root/etc/systemd/system/multi-user.target.wants/vxman.service"
}

# -b boots systemd; --register=no and --keep-unit because this host's PID 1 is not systemd (no
# system bus to register with); --private-network: the container sees only its own loopback.
boot() {
  systemd-nspawn -b -D "$root" -M "vxman-ops-$$" --private-network --register=no --keep-unit \
    --console=passive >"$work/nspawn.log" 2>&1 &
  nspawn_pid=$!
  local c
  for _ in $(seq 1 100); do
    for c in $(ps -o pid= --ppid "$nspawn_pid" 2>/dev/null); do
      [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ] && leader=$c
    done
    [ -n "$leader" ] && break
    kill -0 "$nspawn_pid" 2>/dev/null || break
    sleep 0.2
  done
  [ -n "$leader" ] || return 1
  # The bus socket appears a moment after PID 1 does; then wait for the boot to finish.
  wait_until 60 inside test -S /run/systemd/private || true
  local state
  state=$(inside systemctl is-system-running --wait 2>/dev/null || true)
  say "container booted (PID 1 is $leader on the host): system $state"
  [ "$state" = running ] || inside systemctl --failed --no-legend --no-pager || true
}

# --- the checks -----------------------------------------------------------------------------------

# The admin token vxman generated on this storage's first start (from the journal): it opens
# every endpoint, so the checks work whatever needs which token.
admin=
generated_token() {
  journal_since "$1" | grep 'generated admin token' | grep -Eo 'keep it\): [^" ]+' | cut -d' ' -f3 | tail -1 || true
}
api() { inside curl -s -m 5 -H "authorization: Bearer $admin" "$@"; }
health() { inside curl -fsS -m 5 "$API/health"; }
machine() { api -f "$API/api/machines/127.0.0.2"; }
pinged() { machine | grep -Eq '"last_rtt_ms":[0-9]'; }
unit_failed() { [ "$(unit ActiveState)" = failed ]; }
# Serving, or no point waiting longer: failed, or restarted after a failure.
settled() { health || unit_failed || [ "$(unit NRestarts)" != 0 ]; }

# The unit is (re)started by the caller; these check the running service. $1: storage label.
check_running() {
  local s=$1 since=$2 state pid uid capeff seccomp subset h code m
  wait_until 90 settled || true
  state=$(inside systemctl is-active vxman || true)
  h=$(health 2>&1 || true)
  check "[$s] the unit starts and /health answers" "ActiveState=$state" '[ "$state" = active ] && [ -n "$h" ]'
  check "[$s] /health: status ok, storage $s, monitoring on" "$h" \
    'grep -q "\"status\":\"ok\".*\"storage\":\"$s\".*\"monitoring\":\"on\"" <<<"$h"'
  admin=$(generated_token "$since")

  pid=$(unit MainPID || true)
  uid=$(inside awk '/^Uid:/ { print $2 }' "/proc/$pid/status" || true)
  capeff=$(inside awk '/^CapEff:/ { print $2 }' "/proc/$pid/status" || true)
  check "[$s] runs as a dynamic user" "uid $uid" '[ "$uid" -ge $DYNAMIC_UID_MIN ] && [ "$uid" -le $DYNAMIC_UID_MAX ]'
  check "[$s] CapEff is exactly CAP_NET_RAW" "CapEff $capeff" '[ "$capeff" = $CAP_NET_RAW ]'
  seccomp=$(inside awk '/^Seccomp:/ { print $2 }' "/proc/$pid/status" || true)
  subset=$(inside grep -c ' /proc .* - proc .*subset=pid' "/proc/$pid/mountinfo" || true)
  check "[$s] the syscall filter and ProcSubset=pid are in force" "Seccomp: $seccomp (2: filtered), /proc mounts with subset=pid: $subset" \
    '[ "$seccomp" = 2 ] && [ "$subset" -ge 1 ]'

  code=$(inside curl -s -o /dev/null -w '%{http_code}' -m 5 "$API/" || true)
  check "[$s] the dashboard / answers 200" "HTTP $code" '[ "$code" = 200 ]'

  code=$(api -o /dev/null -w '%{http_code}' -X PUT -H 'content-type: application/json' \
    -d '{"hostname":"ops-check","mac_address":"52:54:00:00:00:02"}' "$API/api/machines/127.0.0.2" || true)
  wait_until 20 pinged || true
  m=$(machine 2>&1 | grep -Eo '"(status|last_rtt_ms)":("[a-z]+"|[0-9.e-]+|null)' | tr '\n' ' ' || true)
  check "[$s] 127.0.0.2 registered over HTTP and pinged" "PUT $code; $m" '[ "$code" = 201 ] && pinged'
}

# The documented recipe for the generated admin token, and the token it finds opening /metrics
# (whose process metrics read /proc/self: still there under ProcSubset=pid).
check_admin_token() {
  local s=$1 since=$2 broad narrow code
  broad=$(journal_since "$since" | grep -c 'admin token' || true)
  narrow=$(journal_since "$since" | grep -c 'generated admin token' || true)
  # After a restart `grep 'admin token'` also finds "using the one generated on first start".
  check "[$s] the documented grep 'generated admin token' finds the one token line" \
    "'generated admin token': $narrow line, 'admin token': $broad lines" '[ "$narrow" = 1 ]'
  code=$(api -o /tmp/metrics -w '%{http_code}' "$API/metrics" || true)
  check "[$s] that token opens /metrics, process metrics included" "HTTP $code" \
    '[ "$code" = 200 ] && inside grep -q "^vxman_process_resident_memory_bytes " /tmp/metrics'
}

check_stop_and_restart() {
  local s=$1 rc=0 t0 ms result status m
  t0=$(date +%s%N)
  inside systemctl stop vxman || rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  result=$(unit Result || true)
  status=$(unit ExecMainStatus || true)
  check "[$s] systemctl stop is clean" "exit $rc in $ms ms, Result=$result, ExecMainStatus=$status" \
    '[ "$rc" = 0 ] && [ "$ms" -lt 5000 ] && [ "$result" = success ] && [ "$status" = 0 ]'
  inside systemctl start vxman || true
  wait_until 60 settled || true
  m=$(machine 2>&1 | grep -Eo '"hostname":"[^"]*"' || true)
  check "[$s] data persists across a restart" "GET 127.0.0.2 after the restart: ${m:-nothing}" '[ -n "$m" ]'
}

# PORT=abc: vxman exits 2 (a configuration error) and RestartPreventExitStatus=2 keeps it down.
check_bad_setting() {
  local s=$1 since=$2 state status restarts line
  echo "PORT=abc" >>"$root/etc/vxman/vxman.env"
  inside systemctl restart vxman || true
  wait_until 15 unit_failed || true
  sleep 7 # longer than RestartSec=5s: a restart would have happened by now
  state=$(unit ActiveState || true)
  status=$(unit ExecMainStatus || true)
  restarts=$(unit NRestarts || true)
  line=$(journal_since "$since" | grep -m1 PORT | cut -c1-160 || true)
  check "[$s] PORT=abc: exit 2, no restart loop" "ActiveState=$state ExecMainStatus=$status NRestarts=$restarts; journal: $line" \
    '[ "$state" = failed ] && [ "$status" = 2 ] && [ "$restarts" = 0 ]'
  sed -i '/^PORT=abc$/d' "$root/etc/vxman/vxman.env"
  inside systemctl reset-failed vxman || true
}

# A syscall outside SystemCallFilter= kills the process with SIGSYS (unless SystemCallErrorNumber=).
check_no_sigsys() {
  local s=$1 since=$2 n
  n=$(inside journalctl --no-pager -o cat --since "@$since" | grep -Ec 'status=31/SYS|signal=SYS' || true)
  check "[$s] nothing was killed by the syscall filter" "$n SIGSYS lines in the journal" '[ "$n" = 0 ]'
}

run_checks() {
  local s=$1 since=$2
  check_running "$s" "$since"
  check_stop_and_restart "$s"
  check_admin_token "$s" "$since"
  check_bad_setting "$s" "$since"
  check_no_sigsys "$s" "$since"
}

use_postgres() {
  # debootstrap's postgresql postinst usually makes no cluster there, but some runs do (seen: a
  # fresh root whose postinst created 15/main): make one only when it is missing, then start it.
  local version
  version=$(ls "$root/usr/lib/postgresql" | sort -n | tail -1)
  if [ -d "$root/etc/postgresql/$version/main" ]; then
    inside pg_ctlcluster "$version" main start >/dev/null 2>&1 || true
  else
    inside pg_createcluster "$version" main --start >/dev/null
  fi
  wait_until 60 inside pg_isready -q -h 127.0.0.1 || true
  inside runuser -u postgres -- psql -qc "CREATE ROLE vxman LOGIN PASSWORD 'vxman-ops-check'" >/dev/null
  inside runuser -u postgres -- createdb -O vxman vxman
  echo "DATABASE_URL=$PG_URL" >>"$root/etc/vxman/vxman.env"
  # The documented drop-in for a local database.
  install -d "$root/etc/systemd/system/vxman.service.d"
  printf '[Unit]\nAfter=postgresql.service\n' >"$root/etc/systemd/system/vxman.service.d/40-postgres.conf"
  inside systemctl daemon-reload
  inside systemctl restart vxman || true
}

check_rows_in_postgres() {
  local n
  n=$(inside runuser -u postgres -- psql -tAc "SELECT count(*) FROM machines WHERE hostname = 'ops-check'" vxman || true)
  check "[postgres] the machine is stored in PostgreSQL" "$n row" '[ "$n" = 1 ]'
}

# The score of the unit as shipped: without this script's SIGSYS drop-in.
security_score() {
  local score
  rm -f "$root/$SIGSYS_DROPIN"
  inside systemctl daemon-reload
  score=$(inside systemd-analyze security vxman --no-pager 2>&1 | grep -i 'overall exposure' || true)
  check "systemd-analyze security vxman" "${score:-no score}" '[ -n "$score" ]'
}

main() {
  [ "$(id -u)" = 0 ] || cannot_run "$NAME" "needs root (debootstrap, systemd-nspawn)"
  ensure_packages debootstrap systemd-container util-linux procps
  work=$(mktemp -d /var/tmp/vxman-nspawn-XXXXXX)
  copy_binary "$work"
  local cached
  cached=$(cached_root "$PACKAGES") || cannot_run "$NAME" "debootstrap failed (is the Debian mirror reachable?)"
  root=$work/root
  cp -a --reflink=auto "$cached" "$root"
  install_into_root
  # The unit is enabled, so PGlite's first start (and its token line) is the boot's: the window
  # opens before the boot. The container shares the host's clock.
  local since
  since=$(date +%s)
  if ! boot; then
    tail -20 "$work/nspawn.log"
    cannot_run "$NAME" "systemd-nspawn did not boot a container here"
  fi

  run_checks pglite "$since"

  since=$(inside date +%s)
  use_postgres
  run_checks postgres "$since"
  check_rows_in_postgres

  security_score
  if [ "$failures" -gt 0 ]; then dump_journal; fi
  verdict "$NAME"
}

main "$@"
